// The parity checks of parity.test.cpp, compiled by nvcc for CUDA (device memory, thrust::cuda).
#include "device/parity.test.cpp"
