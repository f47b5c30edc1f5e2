# Finds the CCCL headers (libcu++, Thrust, CUB) of a CUDA toolkit without needing a CUDA compiler.
# Sets KVC_CCCL_INCLUDE_DIR and the imported target kvc::cccl_headers.
if(NOT KVC_CCCL_INCLUDE_DIR)
  find_path(KVC_CCCL_INCLUDE_DIR cuda/std/mdspan
    HINTS ${CUDAToolkit_INCLUDE_DIRS} $ENV{CUDA_PATH} $ENV{CUDA_HOME} /usr/local/cuda
    PATH_SUFFIXES include/cccl cccl include
    DOC "Directory holding cuda/std/mdspan and thrust/ (CCCL 3)")
endif()
if(NOT KVC_CCCL_INCLUDE_DIR)
  message(FATAL_ERROR "kvc needs the CCCL headers (libcu++ cuda/std/mdspan, Thrust) from a CUDA toolkit; "
                      "set KVC_CCCL_INCLUDE_DIR, e.g. to /usr/local/cuda/include/cccl")
endif()
if(NOT TARGET kvc::cccl_headers)
  add_library(kvc::cccl_headers INTERFACE IMPORTED)
  set_target_properties(kvc::cccl_headers PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${KVC_CCCL_INCLUDE_DIR}"
                                                     INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${KVC_CCCL_INCLUDE_DIR}")
endif()
