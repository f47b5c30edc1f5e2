#pragma once
// What kvc learns from the compiler, in one place: the host/device annotation of functions that
// both the reference and the device path call, and the CPU features the element conversions use.
// Algorithms test the macros defined here, never the compiler's own.
//
//   KVC_HOST_DEVICE              __host__ __device__ under nvcc, nothing otherwise
//   KVC_HAS_FLOAT16              the host compiler has _Float16 (not under nvcc)
//   KVC_DETAIL_F16C_NATIVE       the build targets F16C (-march=...): a _Float16 → float cast is one instruction
//   KVC_DETAIL_F16C_AT_RUN_TIME  g++ on x86-64 without -march: F16C is chosen at run time
//   KVC_DETAIL_SSE2_ROWS         host rows are summed with SSE2 packed doubles (device/detail/row_math.hpp)

#include "kvc/version.hpp"

#if defined(__CUDACC__) || defined(__CUDA_ARCH__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#define KVC_HOST_DEVICE __host__ __device__
#else
#define KVC_HOST_DEVICE
#endif

#if defined(__FLT16_MAX__) && !defined(__CUDACC__)
#define KVC_HAS_FLOAT16 1
#endif

#if defined(__F16C__) || defined(__AVX512FP16__)
#define KVC_DETAIL_F16C_NATIVE 1
#endif

#if defined(KVC_HAS_FLOAT16) && !defined(KVC_DETAIL_F16C_NATIVE) && defined(__x86_64__) && defined(__GNUC__) && \
    !defined(__clang__)
#define KVC_DETAIL_F16C_AT_RUN_TIME 1
#include <immintrin.h>
#endif

#if defined(__SSE2__) && !defined(__CUDACC__)
#define KVC_DETAIL_SSE2_ROWS 1
#include <emmintrin.h>
#endif
