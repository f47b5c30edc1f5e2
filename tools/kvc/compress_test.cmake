# `kvc compress` on the fixture: a mask per layer for every method and budget (a ratio's folder
# is 0.20, a token count's 64t), K/V only where they changed (EMS merges values, H2O keeps them;
# EMS told to merge nothing keeps them too).
function(compress out)
  file(REMOVE_RECURSE ${out})
  execute_process(COMMAND ${KVC} compress --trace ${TRACE} --prefix 256 --out ${out} --quiet ${ARGN}
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "kvc compress ${ARGN} failed: ${rc}\n${err}")
  endif()
endfunction()
function(count out pattern)
  file(GLOB files ${pattern})
  list(LENGTH files n)
  set(${out} ${n} PARENT_SCOPE)
endfunction()

compress(${OUT} --methods h2o,ems --budgets 0.2 --tokens 64)
foreach(budget 0.20 64t)
  count(h2o_masks ${OUT}/h2o/${budget}/*.mask.npy)
  count(h2o_keys ${OUT}/h2o/${budget}/*.k.npy)
  count(ems_values ${OUT}/ems/${budget}/*.v.npy)
  count(ems_keys ${OUT}/ems/${budget}/*.k.npy)
  if(NOT h2o_masks EQUAL 3 OR NOT h2o_keys EQUAL 0 OR NOT ems_values EQUAL 3 OR NOT ems_keys EQUAL 3)
    message(FATAL_ERROR "${budget}: expected a mask per layer (3), no keys for H2O (it keeps K/V as they are) and "
                        "merged keys and values for EMS; got ${h2o_masks} masks, ${h2o_keys} H2O key files, ${ems_keys} "
                        "EMS key files, ${ems_values} EMS value files")
  endif()
endforeach()
file(READ ${OUT}/h2o/64t/kept_fraction.txt kept)
string(STRIP "${kept}" kept)
if(NOT kept STREQUAL "0.25")
  message(FATAL_ERROR "64 tokens of a 256-token prefix: expected kept_fraction 0.25, got ${kept}")
endif()

compress(${OUT}-unmerged --methods ems --budgets 0.2 --param ems.merge_values=false --param ems.merge_keys=false)
count(values ${OUT}-unmerged/ems/0.20/*.v.npy)
count(masks ${OUT}-unmerged/ems/0.20/*.mask.npy)
if(NOT values EQUAL 0 OR NOT masks EQUAL 3)
  message(FATAL_ERROR "ems.merge_values=false ems.merge_keys=false: expected masks and no value files, got ${masks} and ${values}")
endif()
