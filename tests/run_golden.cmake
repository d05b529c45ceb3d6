# Runs one golden test: `journey ARGS` in a folder, stdout (and the exit code) compared byte for
# byte with the expected files. Set JOURNEY_UPDATE_GOLDEN=1 in the environment to rewrite them.
#   -DBIN=<journey binary> -DDIR=<working folder> -DARGS=<arguments> -DEXPECTED=<file>
#   [-DEXPECTED_CODE=<n>]
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND "${BIN}" ${args}
                WORKING_DIRECTORY "${DIR}"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code)
if(NOT DEFINED EXPECTED_CODE)
  set(EXPECTED_CODE 0)
endif()
if(DEFINED ENV{JOURNEY_UPDATE_GOLDEN} AND "$ENV{JOURNEY_UPDATE_GOLDEN}" STREQUAL "1")
  file(WRITE "${EXPECTED}" "${out}")
  message(STATUS "updated ${EXPECTED}")
  return()
endif()
file(READ "${EXPECTED}" want)
if(NOT out STREQUAL want)
  file(WRITE "${EXPECTED}.actual" "${out}")
  execute_process(COMMAND diff -u "${EXPECTED}" "${EXPECTED}.actual")
  file(REMOVE "${EXPECTED}.actual")
  message(FATAL_ERROR "output differs from ${EXPECTED}\nstderr:\n${err}")
endif()
if(NOT code EQUAL EXPECTED_CODE)
  message(FATAL_ERROR "exit code ${code}, expected ${EXPECTED_CODE}\nstderr:\n${err}")
endif()
