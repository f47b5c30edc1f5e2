// The dispatch checks of dispatch.test.cpp, compiled by nvcc for CUDA (device memory, thrust::cuda).
#include "device/dispatch.test.cpp"
