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
# siw settings beyond CRC/P2P (user network; appended after NET: SIW settings and, for
# guest-server, the expected outcome): MPA revision 1 from the siw initiator (our server answers
# revision 1; the windows profile adds the [MS-SMBD] IRD/ORD block only when the Request carried
# one, and siw's does not), and siw's mpa_crc_strict (siw refuses CRC: our default profile's
# Request with C is answered with a rejecting Reply; siw-compatible sends no C and connects).
list(APPEND _cases_user_extra
  "guest-client:4096:3:0:0:tool:siw-compatible:user:mpa_version=1"
  "guest-client:1000:3:1:0:tool:windows:user:mpa_version=1"
  "guest-server:1000:3:0:0:tool:default:user:mpa_crc_strict=1:reject"
  "guest-server:1000:3:0:0:tool:siw-compatible:user:mpa_crc_strict=1"
)
# before the tap cases (one VM network switch)
list(FIND _cases "guest-server:65535:3:1:1:tool:default:tap" _first_tap)
list(INSERT _cases ${_first_tap} ${_cases_user_extra})
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
    set(_i 6)
  else()
    list(GET _c 6 _prof)
    set(_peer ${_kind}:${_prof})
    set(_pname ${_kind}.${_prof})
    set(_i 7)
    if(_kind STREQUAL "tool" AND NOT TARGET ndk)
      continue()
    endif()
  endif()
  list(GET _c ${_i} _net)
  list(LENGTH _c _len)
  set(_siw -)
  set(_expect pass)
  set(_suffix "")
  math(EXPR _i "${_i} + 1")
  if(_len GREATER _i)
    list(GET _c ${_i} _siw)
    string(REPLACE "=" "" _sname "${_siw}")
    string(REPLACE "," "_" _sname "${_sname}")
    string(APPEND _suffix "_${_sname}")
    math(EXPR _i "${_i} + 1")
    if(_len GREATER _i)
      list(GET _c ${_i} _expect)
      string(APPEND _suffix "_${_expect}")
    endif()
  endif()
  set(_name interop.siw.${_net}.${_mode}.${_pname}.S${_s}_C${_k}_crc${_crc}_p2p${_p2p}${_suffix})
  add_test(NAME ${_name} COMMAND bash ${_drv} ${_mode} ${_s} ${_k} ${_crc} ${_p2p} ${_peer} ${_net} ${_siw} ${_expect})
  set_tests_properties(${_name} PROPERTIES FIXTURES_REQUIRED siwvm ENVIRONMENT "${_env}" TIMEOUT 300
    LABELS interop RESOURCE_LOCK siwvm)
  # ctest schedules by cost; keep the user-network cases before the tap ones (one VM switch)
  if(_net STREQUAL "user")
    list(APPEND _user_cases ${_name})
  else()
    set_tests_properties(${_name} PROPERTIES DEPENDS "${_user_cases}")
  endif()
endforeach()

# perftest -R (ib_write_bw / ib_read_bw / ib_send_bw 4.5-0.17 in the guest) against
# `ndk perf --perftest` (tests/interop/perftest_case.sh; docs/interop.md "perftest-compatible
# mode"): our client against the guest's server and the guest's client against ours, user network,
# OPENNDK_MPA_PROFILE=siw-compatible, 200 x 4096 bytes (each case ~10-30 s under TCG). Same fixture,
# lock and environment as the rping cases; the script restarts the VM on the user network if an
# rping case left it on tap, and the tap cases are ordered after these.
if(TARGET ndk OR OPENNDK_INTEROP_BIN_DIR)
  set(_perftest_cases)
  foreach(_dir guest-server guest-client)
    foreach(_t write read send)
      set(_name interop.siw.user.perftest.${_dir}.${_t}.S4096_N200)
      add_test(NAME ${_name} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/perftest_case.sh ${_dir} ${_t} 4096 200)
      set_tests_properties(${_name} PROPERTIES FIXTURES_REQUIRED siwvm ENVIRONMENT "${_env}" TIMEOUT 600
        LABELS interop RESOURCE_LOCK siwvm)
      list(APPEND _perftest_cases ${_name})
    endforeach()
  endforeach()
  get_property(_all_tests DIRECTORY PROPERTY TESTS)
  foreach(_name IN LISTS _all_tests)
    if(_name MATCHES "^interop\\.siw\\.tap\\.")
      set_tests_properties(${_name} PROPERTIES DEPENDS "${_user_cases};${_perftest_cases}")
    endif()
  endforeach()
endif()

# SMB Direct against ksmbd in the same VM (tests/interop/smb_case.sh, interop/SMB-HARNESS.md): the
# server check (smbclient over TCP, MPA on 5445; needs no client of ours) and the `ndk smb` cases
# (skipped, exit 77, in a build whose tool has no `smb` subcommand). User network,
# same fixture and lock; ksmbd is started in the running VM by the first case (no extra boot), and
# the cases run before the tap cases (one network switch).
set(_smb_drv ${CMAKE_CURRENT_SOURCE_DIR}/smb_case.sh)
set(_smb_cases interop.smb.server)
add_test(NAME interop.smb.server COMMAND bash ${_smb_drv} server)
foreach(_prof siw-compatible windows)
  add_test(NAME interop.smb.${_prof}.transfer COMMAND bash ${_smb_drv} transfer ${_prof} 0 1 4095 1048576 9437184)
  list(APPEND _smb_cases interop.smb.${_prof}.transfer)
endforeach()
# The control (SMB2 over TCP 445, same client and server), the RDMA operations on the wire, and a
# server that goes away in the middle of a transfer.
add_test(NAME interop.smb.tcp.transfer COMMAND bash ${_smb_drv} tcp 0 1 4095 1048576 9437184)
add_test(NAME interop.smb.wire COMMAND bash ${_smb_drv} wire)
add_test(NAME interop.smb.disconnect COMMAND bash ${_smb_drv} disconnect)
list(APPEND _smb_cases interop.smb.tcp.transfer interop.smb.wire interop.smb.disconnect)
set_tests_properties(${_smb_cases} PROPERTIES FIXTURES_REQUIRED siwvm ENVIRONMENT "${_env}" TIMEOUT 600
  LABELS interop RESOURCE_LOCK siwvm SKIP_RETURN_CODE 77)
get_property(_all_tests DIRECTORY PROPERTY TESTS)
foreach(_name IN LISTS _all_tests)
  if(_name MATCHES "^interop\\.siw\\.tap\\.")
    set_property(TEST ${_name} APPEND PROPERTY DEPENDS ${_smb_cases})
  endif()
endforeach()
