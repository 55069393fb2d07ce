# The siw VM matrix (label "interop"): one persistent VM for all cases (ctest fixture), cases run
# one at a time (RESOURCE_LOCK siwvm). Each entry: SIZE:COUNT:CRC:P2P.
set(_cases
  "23:1:0:0"
  "64:100:0:0"
  "1000:1:1:0"
  "4096:100:1:0"
  "65535:1:0:1"
  "65535:100:1:1"
  "64:1:1:1"
)
add_test(NAME interop.vm_start COMMAND bash ${_drv} vm-start)
add_test(NAME interop.vm_stop COMMAND bash ${_drv} vm-stop)
set_tests_properties(interop.vm_start PROPERTIES FIXTURES_SETUP siwvm ENVIRONMENT "${_env}" TIMEOUT 900
  LABELS interop RESOURCE_LOCK siwvm)
set_tests_properties(interop.vm_stop PROPERTIES FIXTURES_CLEANUP siwvm ENVIRONMENT "${_env}" TIMEOUT 120
  LABELS interop RESOURCE_LOCK siwvm)
foreach(_mode guest-server guest-client)
  foreach(_cc IN LISTS _cases)
    string(REPLACE ":" ";" _c "${_cc}")
    list(GET _c 0 _s)
    list(GET _c 1 _k)
    list(GET _c 2 _crc)
    list(GET _c 3 _p2p)
    set(_name interop.siw.${_mode}.S${_s}_C${_k}_crc${_crc}_p2p${_p2p})
    add_test(NAME ${_name} COMMAND bash ${_drv} ${_mode} ${_s} ${_k} ${_crc} ${_p2p})
    set_tests_properties(${_name} PROPERTIES FIXTURES_REQUIRED siwvm ENVIRONMENT "${_env}" TIMEOUT 300
      LABELS interop RESOURCE_LOCK siwvm)
  endforeach()
endforeach()

# The same through the NDK C ABI (tools/ndk/rping_protocol via openndk-ndk-rping), per provider
# MPA profile: SIZE:COUNT:CRC:P2P:PROFILE (CRC/P2P set the siw side only).
if(TARGET openndk-ndk-rping)
  set(_ndk_cases
    "64:3:0:0:default"
    "65535:100:1:1:default"
    "4096:3:0:0:siw-compatible"
    "1000:3:1:1:windows"
  )
  foreach(_mode guest-server guest-client)
    foreach(_cc IN LISTS _ndk_cases)
      string(REPLACE ":" ";" _c "${_cc}")
      list(GET _c 0 _s)
      list(GET _c 1 _k)
      list(GET _c 2 _crc)
      list(GET _c 3 _p2p)
      list(GET _c 4 _prof)
      set(_name interop.siw.ndk.${_mode}.${_prof}.S${_s}_C${_k}_crc${_crc}_p2p${_p2p})
      add_test(NAME ${_name} COMMAND bash ${_drv} ${_mode} ${_s} ${_k} ${_crc} ${_p2p} ndk:${_prof})
      set_tests_properties(${_name} PROPERTIES FIXTURES_REQUIRED siwvm ENVIRONMENT "${_env}" TIMEOUT 300
        LABELS interop RESOURCE_LOCK siwvm)
    endforeach()
  endforeach()
endif()
