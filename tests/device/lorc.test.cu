// The LoRC projector checks of lorc.test.cpp, compiled by nvcc for CUDA (device memory, thrust::cuda).
#include "device/lorc.test.cpp"
