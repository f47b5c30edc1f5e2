# `kvc compress` on the fixture: a mask per layer for every method, K/V only where they changed.
file(REMOVE_RECURSE ${OUT})
execute_process(COMMAND ${KVC} compress --trace ${TRACE} --prefix 256 --methods h2o,ems --budgets 0.2 --out ${OUT}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "kvc compress failed: ${rc}")
endif()
file(GLOB h2o_masks ${OUT}/h2o/0.20/*.mask.npy)
file(GLOB h2o_keys ${OUT}/h2o/0.20/*.k.npy)
file(GLOB ems_values ${OUT}/ems/0.20/*.v.npy)
list(LENGTH h2o_masks masks)
list(LENGTH h2o_keys keys)
list(LENGTH ems_values values)
if(masks EQUAL 0 OR NOT keys EQUAL 0 OR values EQUAL 0)
  message(FATAL_ERROR "expected a mask per layer, no keys for H2O (it keeps K/V as they are) and merged "
                      "values for EMS; got ${masks} masks, ${keys} H2O key files, ${values} EMS value files")
endif()
