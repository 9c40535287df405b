# `rrun --version`'s commit, and the man pages and shell completions that
# rrun writes from its command table (issue 17; cli/help.hpp).

# The commit: `git describe` at build time into a generated source of
# rrun_cli, rewritten only when it changes (packaging/cmake/commit.cmake):
# a new commit recompiles one small file and relinks, nothing is
# reconfigured. -DRRUN_COMMIT=TEXT sets it for a build outside git.
set(RRUN_COMMIT "" CACHE STRING "The commit `rrun --version` prints (default: git describe, else unknown)")
find_package(Git QUIET)
set(RRUN_COMMIT_CPP ${CMAKE_BINARY_DIR}/generated/commit.cpp)
add_custom_target(rrun_commit
  COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR} -DOUT=${RRUN_COMMIT_CPP} -DGIT=${GIT_EXECUTABLE}
          -DCOMMIT=${RRUN_COMMIT} -P ${CMAKE_SOURCE_DIR}/packaging/cmake/commit.cmake
  BYPRODUCTS ${RRUN_COMMIT_CPP}
  COMMENT "Checking the commit for rrun --version")
target_sources(rrun_cli PRIVATE ${RRUN_COMMIT_CPP})
add_dependencies(rrun_cli rrun_commit)

if(NOT RRUN_FUZZ)
  # Man pages and completions, made by the built rrun (`rrun help --man`,
  # `rrun completion SHELL`) into build/man and build/completion.
  set(RRUN_DOCS_STAMP ${CMAKE_BINARY_DIR}/completion/rrun)
  add_custom_command(OUTPUT ${RRUN_DOCS_STAMP}
    COMMAND ${CMAKE_COMMAND} -DRRUN=$<TARGET_FILE:rrun> -DOUT=${CMAKE_BINARY_DIR}
            -P ${CMAKE_SOURCE_DIR}/packaging/cmake/docs.cmake
    DEPENDS rrun ${CMAKE_SOURCE_DIR}/packaging/cmake/docs.cmake
    COMMENT "Writing the man pages and shell completions")
  add_custom_target(rrun_docs ALL DEPENDS ${RRUN_DOCS_STAMP})

  include(GNUInstallDirs)
  install(DIRECTORY ${CMAKE_BINARY_DIR}/man/man1 ${CMAKE_BINARY_DIR}/man/man5
          DESTINATION ${CMAKE_INSTALL_MANDIR})
  install(FILES ${CMAKE_BINARY_DIR}/completion/rrun
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
  install(FILES ${CMAKE_BINARY_DIR}/completion/_rrun DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
  install(FILES ${CMAKE_BINARY_DIR}/completion/rrun.fish
          DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
endif()
