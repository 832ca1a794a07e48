// backends/host_device.h — MARGIN_HD marks a function that both backends compile: nvcc builds
// it for the host and the device (__host__ __device__), the host compiler sees a plain inline
// function. Only the headers shared by backends/cpu and backends/cuda use it.
#pragma once

#ifdef __CUDACC__
#define MARGIN_HD __host__ __device__
#else
#define MARGIN_HD
#endif
