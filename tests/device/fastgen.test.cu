// The FastGen parity checks of fastgen.test.cpp, compiled by nvcc for CUDA (device memory, thrust::cuda).
#include "device/fastgen.test.cpp"
