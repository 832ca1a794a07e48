# tests/consumer/run.cmake — ctest's check that margin installs as a package a program outside
# the tree can use: cmake --install BUILD_DIR into WORK_DIR/prefix, configure and build
# SOURCE_DIR (tests/consumer) against it with find_package(margin), run the program and
# require "consumer: ok". Each failing step stops with its output.
#   cmake -DBUILD_DIR=… -DSOURCE_DIR=… -DWORK_DIR=… -DCONFIG=Release -DCXX=… -P run.cmake
file(REMOVE_RECURSE ${WORK_DIR})
function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${what} failed (${status}):\n${out}\n${err}")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()
step("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix --config ${CONFIG})
step("configuring the consumer" ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build
     -DCMAKE_BUILD_TYPE=${CONFIG} -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
step("building the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
step("running the consumer" ${WORK_DIR}/build/lmcl_step)
message("${output}")
if(NOT output MATCHES "consumer: ok")
  message(FATAL_ERROR "the consumer did not say ok")
endif()
