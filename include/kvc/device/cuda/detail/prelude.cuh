#pragma once
// Included first by every kvc/device/cuda header: the CUDA runtime plus kvc's element types and
// views (core/element.hpp brings in <cuda_fp16.h> and <cuda_bf16.h> under nvcc, so
// kvc::to_float knows __half and __nv_bfloat16 whatever the include order).

#include "kvc/version.hpp"

#include <cuda_runtime.h>

#include "kvc/core/element.hpp"
#include "kvc/core/view.hpp"
