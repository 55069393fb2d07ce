# Installation extras and the Debian package (docs/tools.md "Installing"): man pages generated
# from the docs, the licence, relocatable pkg-config file, CPack DEB (`make package`).

# Man pages from the Markdown docs with pandoc (scripts/install-deps installs it). ndk(1) is
# docs/tools.md behind a NAME/SYNOPSIS/ENVIRONMENT head (cmake/ndk.1.head.md);
# openndk-provider(7) is docs/openndk-provider.7.md, whose first heading becomes the title.
find_program(PANDOC_EXECUTABLE pandoc)
if(PANDOC_EXECUTABLE)
  set(_man ${PROJECT_BINARY_DIR}/man)
  set(_meta -M "footer=OpenNDK ${PROJECT_VERSION}" -M "header=OpenNDK")
  add_custom_command(OUTPUT ${_man}/ndk.1
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_man}
    COMMAND ${PANDOC_EXECUTABLE} -f markdown-smart -s -t man -M title=ndk -M section=1 ${_meta}
            ${PROJECT_SOURCE_DIR}/cmake/ndk.1.head.md ${PROJECT_SOURCE_DIR}/docs/tools.md -o ${_man}/ndk.1
    DEPENDS ${PROJECT_SOURCE_DIR}/cmake/ndk.1.head.md ${PROJECT_SOURCE_DIR}/docs/tools.md
    COMMENT "pandoc: ndk(1)" VERBATIM)
  add_custom_command(OUTPUT ${_man}/openndk-provider.7
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_man}
    COMMAND ${PANDOC_EXECUTABLE} -f markdown-smart -s -t man --shift-heading-level-by=-1 -M section=7 ${_meta}
            ${PROJECT_SOURCE_DIR}/docs/openndk-provider.7.md -o ${_man}/openndk-provider.7
    DEPENDS ${PROJECT_SOURCE_DIR}/docs/openndk-provider.7.md
    COMMENT "pandoc: openndk-provider(7)" VERBATIM)
  add_custom_target(man ALL DEPENDS ${_man}/ndk.1 ${_man}/openndk-provider.7)
  install(FILES ${_man}/ndk.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  install(FILES ${_man}/openndk-provider.7 DESTINATION ${CMAKE_INSTALL_MANDIR}/man7)
else()
  message(WARNING "pandoc not found (scripts/install-deps installs it): no man pages are built or installed")
endif()

install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/openndk RENAME copyright)

# The Debian package: `make package` (cpack -G DEB in the release build). Shared-library
# dependencies are computed by dpkg-shlibdeps.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME openndk)
set(CPACK_PACKAGE_VENDOR "The OpenNDK contributors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "NDKPI (Network Direct Kernel Provider Interface) over a software iWARP RNIC")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "The OpenNDK contributors")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The tests' build tree is not part of the package; only what `install()` names is.
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
include(CPack)
