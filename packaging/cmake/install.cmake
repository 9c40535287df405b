# Install rules (issue 17): what `cmake --install` and the Debian package
# (packaging/debian) put under the prefix. test/packaging/install-manifest.txt
# lists every installed file; test/packaging/test_install.sh checks it.
#
# Only rrun itself goes to bin/: it needs no helper binary at run time (its
# init and exec trampoline are embedded, core/pid1.c and core/trampoline.c).
# The programs of test/probe/ stay in the build tree: rrun-probe,
# rrun-exe-grabber and rrun-layer-tool only make sense to the tests, and
# rrun-seccomp-agent and rrun-recvtty are minimal test doubles (an agent that
# answers every notification alike, a receiver that only copies the tty), as
# runc keeps its recvtty and seccompagent in contrib/ and out of its package.
include(GNUInstallDirs)

install(TARGETS rrun RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# What is benchmarked and shipped is the Release rrun (stripped, static
# libraries, linked in packaging/link-order.txt's order); any other build
# installs a binary many times larger and slower to start.
install(CODE "
  if(NOT CMAKE_INSTALL_CONFIG_NAME STREQUAL \"Release\")
    message(WARNING \"rrun: installing a '\${CMAKE_INSTALL_CONFIG_NAME}' build, not the Release one: configure with -DCMAKE_BUILD_TYPE=Release (README, Install)\")
  endif()")

# share/doc/rrun: the README, the example sandboxes (examples/sandboxes
# and examples/images, for `rrun run -f FILE`) and the configuration
# snippets for Podman, containerd, Docker and Slurm.
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/packaging/clients/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/clients)
