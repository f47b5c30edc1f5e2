// The EMS parity checks of ems.test.cpp, compiled by nvcc for CUDA (device memory, thrust::cuda).
#include "device/ems.test.cpp"
