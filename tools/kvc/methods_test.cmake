# `kvc methods` lists every method, each with its parameters and their defaults (the papers'
# settings, or kvc's documented ones), and says where the evaluation starts from something other
# than the policy struct's default. `kvc methods --names` is the bare list scripts read.
execute_process(COMMAND ${KVC} methods --names RESULT_VARIABLE rc OUTPUT_VARIABLE names)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "kvc methods --names failed: ${rc}")
endif()
string(STRIP "${names}" names)
string(REPLACE "\n" ";" names "${names}")
set(expected streaming_llm h2o snapkv tova key_norm random adakv pyramidkv fastgen ems intelllm lorc)
if(NOT names STREQUAL expected)
  message(FATAL_ERROR "kvc methods --names: expected ${expected}, got ${names}")
endif()

execute_process(COMMAND ${KVC} methods RESULT_VARIABLE rc OUTPUT_VARIABLE listing)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "kvc methods failed: ${rc}\n${listing}")
endif()
set(listing "${listing}\n")

# The block of method `m`: its line and its parameter lines, up to the blank line.
function(method_block m out)
  string(REGEX MATCH "\n${m} [^\n]*\n(  [^\n]*\n)+" b "${listing}")
  if(b STREQUAL "")
    message(FATAL_ERROR "kvc methods: no entry with parameters for ${m}\n${listing}")
  endif()
  set(${out} "${b}" PARENT_SCOPE)
endfunction()
foreach(m IN LISTS expected)
  method_block(${m} b)
endforeach()

# method:parameter:default
set(defaults
  streaming_llm:sinks:4
  h2o:recent_fraction:0.5 h2o:group:mean h2o:attention:prefix
  snapkv:window:32 snapkv:pool:7 snapkv:pooling:max snapkv:group:mean
  tova:share_across_heads:false tova:sinks:0 tova:recent:0
  key_norm:sinks:0 key_norm:recent:0
  random:seed:1
  adakv:window:32 adakv:floor_fraction:0.2 adakv:pool:7
  pyramidkv:window:32 pyramidkv:beta:20 pyramidkv:pool:7
  fastgen:recovery_threshold:0.95 fastgen:local_ratio:0.3 fastgen:frequent_ratio:0.3 fastgen:budget_use:trim
  fastgen:attention:prefix
  ems:window:32 ems:global_weight:0.5 ems:merge_mass:0.9 ems:min_similarity:0 ems:similarity:key_value
  ems:merge_keys:true ems:merge_values:true
  intelllm:window:32 intelllm:radius:8 intelllm:exclude_first:0 intelllm:exclude_last:32 intelllm:positions:remote_gap
  intelllm:local:64 intelllm:attention:prefix
  lorc:min_rank_fraction:0.25 lorc:max_rank_fraction:1 lorc:accumulate:log_product lorc:max_sweeps:60)
foreach(d IN LISTS defaults)
  string(REPLACE ":" ";" d "${d}")
  list(GET d 0 m)
  list(GET d 1 p)
  list(GET d 2 v)
  method_block(${m} b)
  string(REPLACE "." "[.]" v_re "${v}")
  if(NOT b MATCHES "\n  ${p} +${v_re} +[^ \n]")
    message(FATAL_ERROR "kvc methods: expected ${m}.${p} with default ${v} and a meaning, got\n${b}")
  endif()
endforeach()

# Where the evaluation starts elsewhere, the policy's own default is shown too.
foreach(d "random:seed:0" "fastgen:budget_use:ignore")
  string(REPLACE ":" ";" d "${d}")
  list(GET d 0 m)
  list(GET d 1 p)
  list(GET d 2 v)
  method_block(${m} b)
  if(NOT b MATCHES "\n  ${p} [^\n]*the policy's own default: ${v}\n")
    message(FATAL_ERROR "kvc methods: expected ${m}.${p} to show the policy's own default ${v}, got\n${b}")
  endif()
endforeach()
method_block(snapkv b)
if(b MATCHES "policy's own default")
  message(FATAL_ERROR "kvc methods: snapkv runs with its policy's defaults, yet shows another\n${b}")
endif()
