// The IntelLLM parity checks of intelllm.test.cpp, compiled by nvcc for CUDA (device memory, thrust::cuda).
#include "device/intelllm.test.cpp"
