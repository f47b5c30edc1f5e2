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
      if(EXISTS "${_kvc_dir}/cuda/std/mdspan")
        if(EXISTS "${_kvc_dir}/thrust/version.h")        # a toolkit or an install: one directory
          set(_kvc_found "${_kvc_dir}")
        elseif(EXISTS "${_kvc_dir}/../../thrust/thrust/version.h")  # a CCCL source checkout
          get_filename_component(_kvc_root "${_kvc_dir}/../.." ABSOLUTE)
          set(_kvc_found "${_kvc_dir};${_kvc_root}/thrust;${_kvc_root}/cub")
        endif()
        break()
      endif()
    endforeach()
    if(_kvc_found)
      set(KVC_CCCL_INCLUDE_DIR "${_kvc_found}" CACHE STRING "Directories holding cuda/std/mdspan, thrust/ and cub/ (CCCL 3)")
    endif()
  endif()
endif()
if(NOT KVC_CCCL_INCLUDE_DIR)
  find_path(KVC_CCCL_INCLUDE_DIR cuda/std/mdspan
    HINTS ${CUDAToolkit_INCLUDE_DIRS} $ENV{CUDA_PATH} $ENV{CUDA_HOME} /usr/local/cuda
    PATH_SUFFIXES include/cccl cccl include
    DOC "Directories holding cuda/std/mdspan, thrust/ and cub/ (CCCL 3)")
endif()
set(_kvc_have_mdspan OFF)
set(_kvc_have_thrust OFF)
foreach(_kvc_dir IN LISTS KVC_CCCL_INCLUDE_DIR)
  if(EXISTS "${_kvc_dir}/cuda/std/mdspan")
    set(_kvc_have_mdspan ON)
  endif()
  if(EXISTS "${_kvc_dir}/thrust/version.h")
    set(_kvc_have_thrust ON)
  endif()
endforeach()
if(NOT _kvc_have_mdspan OR NOT _kvc_have_thrust)
  message(FATAL_ERROR "kvc needs the CCCL 3 headers (libcu++ cuda/std/mdspan, Thrust, CUB): install the CUDA "
                      "toolkit, or get CCCL from https://github.com/NVIDIA/cccl and set CCCL_DIR to its "
                      "lib/cmake/cccl, or KVC_CCCL_INCLUDE_DIR to the directories holding cuda/, thrust/ and "
                      "cub/ (now: '${KVC_CCCL_INCLUDE_DIR}')")
endif()
if(NOT TARGET kvc::cccl_headers)
  add_library(kvc::cccl_headers INTERFACE IMPORTED)
  set_target_properties(kvc::cccl_headers PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${KVC_CCCL_INCLUDE_DIR}"
                                                     INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${KVC_CCCL_INCLUDE_DIR}")
endif()
