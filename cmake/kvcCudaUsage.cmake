# What a CUDA translation unit that includes kvc needs from nvcc, carried by kvc::kvc so that a
# consumer's own .cu file compiles through target_link_libraries(... kvc::kvc) alone:
#   C++20 for CUDA sources (kvc uses std::bit_cast, concepts, designated initialisers);
#   --expt-relaxed-constexpr (constexpr std:: functions called from device code);
#   --extended-lambda (__host__ __device__ lambdas handed to Thrust).
# CMake before 3.25.2 knows no C++20 flag for nvcc (CMake issue 23079), so there the flag is
# given directly. kvcConfig.cmake calls this again for the installed target, under the
# consumer's CMake version.
function(kvc_add_cuda_usage target)
  set(wrap_open "")
  set(wrap_close "")
  if(ARGV1 STREQUAL "BUILD_INTERFACE")
    set(wrap_open "$<BUILD_INTERFACE:")
    set(wrap_close ">")
  endif()
  if(CMAKE_VERSION VERSION_LESS 3.25.2)
    target_compile_options(${target} INTERFACE "${wrap_open}$<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>${wrap_close}")
  else()
    target_compile_features(${target} INTERFACE "${wrap_open}cuda_std_20${wrap_close}")
  endif()
  target_compile_options(${target} INTERFACE
    "${wrap_open}$<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr>${wrap_close}"
    "${wrap_open}$<$<COMPILE_LANGUAGE:CUDA>:--extended-lambda>${wrap_close}")
endfunction()
