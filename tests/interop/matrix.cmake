# The siw VM matrix (label "interop"): one persistent VM for all cases (ctest fixture), cases run
# one at a time (RESOURCE_LOCK siwvm). Trimmed to cover every dimension (direction, size 23..65535,
# count 1/100, CRC off/on, P2P off/on, profile, network user/tap, peer kind) without the full
# cartesian product, so that a cold CI run (TCG) stays within budget (docs/interop.md "CI").
add_test(NAME interop.vm_start COMMAND bash ${_drv} vm-start)
add_test(NAME interop.vm_stop COMMAND bash ${_drv} vm-stop)
set_tests_properties(interop.vm_start PROPERTIES FIXTURES_SETUP siwvm ENVIRONMENT "${_env}" TIMEOUT 900
  LABELS interop RESOURCE_LOCK siwvm)
set_tests_properties(interop.vm_stop PROPERTIES FIXTURES_CLEANUP siwvm ENVIRONMENT "${_env}" TIMEOUT 120
  LABELS interop RESOURCE_LOCK siwvm)

# MODE:SIZE:COUNT:CRC:P2P:PEER:NET. MODE guest-server = ours is the client of `rping -s`,
# guest-client = `rping -c` against ours. CRC/P2P: siw's mpa_crc_required / peer_to_peer (the
# engine peer also sets its own --crc/--p2p; NDK peers take them from the profile: default and
# windows request CRC and offer P2P, siw-compatible does neither).
# PEER: engine (openndk-rping-peer, engine + iwarp only), tool:PROFILE (`ndk ping --rping`,
# libopenndk's C ABI). NET: user (slirp) or tap (network namespace; cases grouped at the end so the
# VM switches network once).
set(_cases
  # reference peer (engine, plus one tap case below): both directions
  "guest-server:65535:3:1:1:engine:user"
  "guest-client:64:100:0:0:engine:user"
  # ndk ping --rping, client against rping -s
  "guest-server:23:100:0:0:tool:siw-compatible:user"
  "guest-server:65535:20:1:1:tool:default:user"
  "guest-server:4096:1:0:1:tool:default:user"
  "guest-server:1000:3:1:1:tool:windows:user"
  # ndk ping --rping, server against rping -c
  "guest-client:23:1:0:0:tool:siw-compatible:user"
  "guest-client:65535:100:1:1:tool:default:user"
  "guest-client:64:100:0:1:tool:default:user"
  "guest-client:4096:3:1:0:tool:siw-compatible:user"
  "guest-client:1000:3:1:1:tool:windows:user"
  # tap network (namespace siwvm, MTU 1500)
  "guest-server:65535:3:1:1:tool:default:tap"
  "guest-client:4096:100:0:0:tool:siw-compatible:tap"
  "guest-client:64:3:1:1:engine:tap"
)
foreach(_cc IN LISTS _cases)
  string(REPLACE ":" ";" _c "${_cc}")
  list(GET _c 0 _mode)
  list(GET _c 1 _s)
  list(GET _c 2 _k)
  list(GET _c 3 _crc)
  list(GET _c 4 _p2p)
  list(GET _c 5 _kind)
  if(_kind STREQUAL "engine")
    set(_peer engine)
    set(_pname engine)
    list(GET _c 6 _net)
  else()
    list(GET _c 6 _prof)
    list(GET _c 7 _net)
    set(_peer ${_kind}:${_prof})
    set(_pname ${_kind}.${_prof})
    if(_kind STREQUAL "tool" AND NOT TARGET ndk)
      continue()
    endif()
  endif()
  set(_name interop.siw.${_net}.${_mode}.${_pname}.S${_s}_C${_k}_crc${_crc}_p2p${_p2p})
  add_test(NAME ${_name} COMMAND bash ${_drv} ${_mode} ${_s} ${_k} ${_crc} ${_p2p} ${_peer} ${_net})
  set_tests_properties(${_name} PROPERTIES FIXTURES_REQUIRED siwvm ENVIRONMENT "${_env}" TIMEOUT 300
    LABELS interop RESOURCE_LOCK siwvm)
  # ctest schedules by cost; keep the user-network cases before the tap ones (one VM switch)
  if(_net STREQUAL "user")
    list(APPEND _user_cases ${_name})
  else()
    set_tests_properties(${_name} PROPERTIES DEPENDS "${_user_cases}")
  endif()
endforeach()
