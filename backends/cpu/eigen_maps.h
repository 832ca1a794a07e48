// backends/cpu/eigen_maps.h — row-major Eigen matrices and maps over raw kernel buffers, the
// one way CPU kernels hand a View's memory to Eigen (margin's tensors are row-major; Eigen's
// default is column-major).
#pragma once
#include <Eigen/Core>

namespace margin::cpu {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;

}  // namespace margin::cpu
