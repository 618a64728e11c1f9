# Optional driver parts, included by driver/CMakeLists.txt.
# XrtDevice (driver/src/xrt/): only when XRT is found (cmake/FindXRT.cmake).
if(XRT_FOUND)
  add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/src/xrt ${CMAKE_CURRENT_BINARY_DIR}/xrt)
endif()
