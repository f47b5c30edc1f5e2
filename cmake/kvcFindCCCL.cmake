# Finds the CCCL headers (libcu++, Thrust, CUB) that kvc's headers include; no CUDA compiler is
# needed. Sets KVC_CCCL_INCLUDE_DIR and the imported target kvc::cccl_headers.
#
# Order: an explicit -DKVC_CCCL_INCLUDE_DIR=...; then the CUDA toolkit's (or any) CCCL package,
# find_package(CCCL CONFIG) (cccl-config.cmake; CCCL_DIR or CMAKE_PREFIX_PATH select another one);
# then a search by path under the usual toolkit locations.
#
# kvc asks CCCL's package where the headers are but links its own target: CCCL::CCCL's Thrust
# target fixes THRUST_DEVICE_SYSTEM to CUDA (kvc's host builds choose CPP or OMP), and its
# include directories are not SYSTEM ones, so CCCL's own warnings would surface in a consumer
# built with -Werror. kvc::cccl_headers puts the same directory on the SYSTEM include path.
if(NOT KVC_CCCL_INCLUDE_DIR)
  find_package(CCCL 3 CONFIG QUIET COMPONENTS libcudacxx
    HINTS $ENV{CUDA_PATH}/lib64/cmake $ENV{CUDA_HOME}/lib64/cmake /usr/local/cuda/lib64/cmake
          /usr/local/cuda/lib/cmake)
  if(TARGET CCCL::libcudacxx)
    get_target_property(_kvc_cccl_dirs _libcudacxx_libcudacxx INTERFACE_INCLUDE_DIRECTORIES)
    foreach(_kvc_dir IN LISTS _kvc_cccl_dirs)
      if(EXISTS "${_kvc_dir}/cuda/std/mdspan" AND EXISTS "${_kvc_dir}/thrust/version.h")
        set(KVC_CCCL_INCLUDE_DIR "${_kvc_dir}" CACHE PATH "Directory holding cuda/std/mdspan and thrust/ (CCCL 3)")
        break()
      endif()
    endforeach()
  endif()
endif()
if(NOT KVC_CCCL_INCLUDE_DIR)
  find_path(KVC_CCCL_INCLUDE_DIR cuda/std/mdspan
    HINTS ${CUDAToolkit_INCLUDE_DIRS} $ENV{CUDA_PATH} $ENV{CUDA_HOME} /usr/local/cuda
    PATH_SUFFIXES include/cccl cccl include
    DOC "Directory holding cuda/std/mdspan and thrust/ (CCCL 3)")
endif()
if(NOT KVC_CCCL_INCLUDE_DIR OR NOT EXISTS "${KVC_CCCL_INCLUDE_DIR}/thrust/version.h")
  message(FATAL_ERROR "kvc needs the CCCL 3 headers (libcu++ cuda/std/mdspan, Thrust, CUB): install the CUDA "
                      "toolkit, or get CCCL from https://github.com/NVIDIA/cccl (a source checkout or its "
                      "install) and set CCCL_DIR, or KVC_CCCL_INCLUDE_DIR to the directory holding cuda/ and "
                      "thrust/ (now: '${KVC_CCCL_INCLUDE_DIR}')")
endif()
if(NOT TARGET kvc::cccl_headers)
  add_library(kvc::cccl_headers INTERFACE IMPORTED)
  set_target_properties(kvc::cccl_headers PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${KVC_CCCL_INCLUDE_DIR}"
                                                     INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${KVC_CCCL_INCLUDE_DIR}")
endif()
