# The Debian package (scripts/package builds it): the binary, the systemd units, a man page per
# command (generated into <build>/man by scripts/man-pages before cpack runs), bash completion and
# the docs. Library dependencies are computed by dpkg-shlibdeps, so they follow the build machine.
# scripts/package builds the binary it ships; installing must not first build every test.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)
install(PROGRAMS contrib/notify/airlock-notify DESTINATION ${CMAKE_INSTALL_DATADIR}/airlock/notify)
install(FILES contrib/bash-completion/airlock DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
file(GLOB airlock_units CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/contrib/systemd/*.service
     ${CMAKE_CURRENT_SOURCE_DIR}/contrib/systemd/*.timer)
if(airlock_units)
  install(FILES ${airlock_units} DESTINATION lib/systemd/system)
endif()
install(DIRECTORY ${CMAKE_BINARY_DIR}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 OPTIONAL
        FILES_MATCHING PATTERN "*.1.gz")
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME airlock)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "airlock release engineering <airlock@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "signed offline release bundles: build, verify, apply, roll back")
set(CPACK_PACKAGE_DESCRIPTION "airlock packs a release into one signed, reproducible tar.zst bundle and\n\
applies it at a site with no network: verify against a pinned trust root, snapshot, migrate,\n\
health-check, and roll back by itself when a hard check fails.")
set(CPACK_PACKAGE_INSTALL_DIRECTORY airlock)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "minisign, zstd, systemd")
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/package)
set(CPACK_STRIP_FILES ON)
include(CPack)
