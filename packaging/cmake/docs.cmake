# cmake -DRRUN=path/to/rrun -DOUT=dir -P docs.cmake
# The man pages (OUT/man/man1, OUT/man/man5) and the shell completions
# (OUT/completion/rrun, _rrun, rrun.fish), written by rrun itself from its
# command table (cli/help.hpp).
# In the sanitizer build a leak report would fail the build for what is a
# build step: the unit tests run the same code under LeakSanitizer.
if(DEFINED ENV{ASAN_OPTIONS})
  set(ENV{ASAN_OPTIONS} "$ENV{ASAN_OPTIONS}:detect_leaks=0")
else()
  set(ENV{ASAN_OPTIONS} "detect_leaks=0")
endif()
file(REMOVE_RECURSE ${OUT}/man)
execute_process(COMMAND ${RRUN} help --man ${OUT}/man RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "rrun help --man ${OUT}/man failed")
endif()
file(MAKE_DIRECTORY ${OUT}/completion)
foreach(pair "bash;rrun" "zsh;_rrun" "fish;rrun.fish")
  list(GET pair 0 shell)
  list(GET pair 1 name)
  execute_process(COMMAND ${RRUN} completion ${shell} OUTPUT_FILE ${OUT}/completion/${name} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "rrun completion ${shell} failed")
  endif()
endforeach()
