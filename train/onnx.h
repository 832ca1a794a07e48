// train/onnx.h — a trained face model's backbone as an ONNX file, for runtimes outside margin
// (OpenCV's DNN module, onnxruntime). Built only when ONNX is (CMake option MARGIN_ONNX, on
// when libonnx-dev and protobuf are found; the compile definition MARGIN_ONNX says so).
//
// The file: opset 11 (IR version 6), the backbone in eval mode as each layer states it
// (Layer::to_graph, layers/graph.h), float32 weights named by their dotted paths.
//   input  "images"      [N, channels, height, width] float32, N dynamic
//   output "embeddings"  [N, emb_dim]
// metadata_props say what a user of the file must do to an image first and how to compare
// the embeddings: arch, channels, color, crop, input, resize, normalize, layout, preprocess
// (all of it in one line), emb_dim, loss, s, m, similarity, threshold, threshold_flip, flip.
// Before anything is written the model passes ONNX's checker and its shape inference, which
// must find the output [N, emb_dim]. The file is written atomically (core/atomic_file.h): a
// failure leaves no file. Every error names the file; a layer without an ONNX form is named
// by its dotted path and type.
#pragma once
#include <string>

#include "train/face_model.h"

namespace margin {

void export_onnx(const FaceModel& model, const std::string& path);

}  // namespace margin
