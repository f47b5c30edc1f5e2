# Builds tests/consumer as a separate project against kvc, the way an engine embeds it, and runs
# its host program. MODE: install (cmake --install kvc, then find_package), fetchcontent, or
# subdirectory. With CUDA_COMPILER set, the consumer also compiles and links a .cu source with
# nvcc (not run: no GPU is assumed). Then checks that nothing of kvc's leaked into the consumer:
# no CTest entries, and its own install installs only its program.
file(REMOVE_RECURSE ${WORK_DIR})
set(args -DKVC_CONSUMER_MODE=${MODE} -DKVC_SOURCE_DIR=${KVC_SOURCE_DIR})
if(MODE STREQUAL "install")
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${KVC_BINARY_DIR} --prefix ${WORK_DIR}/prefix
                  RESULT_VARIABLE rc OUTPUT_QUIET)
  if(rc)
    message(FATAL_ERROR "installing kvc failed")
  endif()
  if(NOT EXISTS ${WORK_DIR}/prefix/include/kvc/version.hpp OR EXISTS ${WORK_DIR}/prefix/include/kvc/io)
    message(FATAL_ERROR "kvc's install tree is wrong: expected include/kvc/version.hpp and no include/kvc/io")
  endif()
  list(APPEND args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
endif()
if(CUDA_COMPILER)
  list(APPEND args -DKVC_CONSUMER_CUDA=ON -DCMAKE_CUDA_COMPILER=${CUDA_COMPILER})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${KVC_SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/build -G ${GENERATOR}
                        -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release ${args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "configuring the consumer (${MODE}) failed:\n${out}\n${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "building the consumer (${MODE}) failed:\n${out}\n${err}")
endif()
if(out MATCHES "warning" OR err MATCHES "warning")
  message(FATAL_ERROR "building the consumer (${MODE}) printed warnings:\n${out}\n${err}")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(rc OR NOT out MATCHES "kept 32 of 64, snapkv 40")
  message(FATAL_ERROR "the consumer (${MODE}) ran wrong: rc=${rc} output=${out}")
endif()
message(STATUS "consumer (${MODE}): ${out}")

# kvc registered no tests in the consumer's project ...
execute_process(COMMAND ${CMAKE_CTEST_COMMAND} --test-dir ${WORK_DIR}/build -N OUTPUT_VARIABLE out)
if(NOT out MATCHES "Total Tests: 0")
  message(FATAL_ERROR "kvc leaked CTest entries into the consumer (${MODE}):\n${out}")
endif()
# ... and the consumer's install installs its own program and nothing of kvc's.
execute_process(COMMAND ${CMAKE_COMMAND} --install ${WORK_DIR}/build --prefix ${WORK_DIR}/consumer-prefix
                RESULT_VARIABLE rc OUTPUT_QUIET)
file(GLOB_RECURSE installed RELATIVE ${WORK_DIR}/consumer-prefix ${WORK_DIR}/consumer-prefix/*)
if(rc OR NOT installed STREQUAL "bin/consumer")
  message(FATAL_ERROR "the consumer's install (${MODE}) holds more than its program: ${installed}")
endif()
