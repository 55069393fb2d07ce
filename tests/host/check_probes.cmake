# Lists the USDT probes of libopenndk.so (readelf -n: one stapsdt note per probe) and fails if
# one of the documented ones is missing (docs/openndk-provider.7.md TRACING). -DLIB=<library>
execute_process(COMMAND readelf -n ${LIB} OUTPUT_VARIABLE notes RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -n ${LIB} failed")
endif()
foreach(probe connect mpa_exchange established rejected terminate_sent terminate_received close
              post post_receive complete cq_overrun cq_error)
  string(REGEX MATCH "Provider: openndk\n[ ]+Name: ${probe}\n" found "${notes}")
  if(NOT found)
    message(FATAL_ERROR "USDT probe openndk:${probe} not in ${LIB}")
  endif()
  message(STATUS "probe openndk:${probe}")
endforeach()
