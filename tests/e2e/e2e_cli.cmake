# ikectl daemon end to end: a daemon on the model device with a temporary socket, driven by the
# ikectl commands and by raw protocol lines; SIGHUP, SIGTERM, SIGKILL + restart from checkpoint.
add_test(NAME e2e_daemon
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_daemon.py
                 --ikectl $<TARGET_FILE:ikectl> -v)
set_tests_properties(e2e_daemon PROPERTIES LABELS e2e TIMEOUT 300)
