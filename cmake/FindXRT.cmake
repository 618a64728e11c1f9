# FindXRT: Xilinx XRT from Debian's libxrt-dev (its pkg-config file is broken, so look by hand).
# Defines XRT_FOUND and the imported targets XRT::coreutil and XRT::noop (the no-op shim that
# stands in for a card: device open, xclbin load, buffers and runs succeed, register access fails).
find_path(XRT_INCLUDE_DIR NAMES xrt/xrt_device.h PATHS /usr/include/xrt /opt/xilinx/xrt/include)
find_library(XRT_COREUTIL_LIBRARY NAMES xrt_coreutil PATHS /opt/xilinx/xrt/lib)
find_library(XRT_NOOP_LIBRARY NAMES xrt_noop PATHS /opt/xilinx/xrt/lib)
find_library(UUID_LIBRARY NAMES uuid)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(XRT REQUIRED_VARS XRT_INCLUDE_DIR XRT_COREUTIL_LIBRARY UUID_LIBRARY)
if(XRT_FOUND AND NOT TARGET XRT::coreutil)
  add_library(XRT::coreutil UNKNOWN IMPORTED)
  set_target_properties(XRT::coreutil PROPERTIES
    IMPORTED_LOCATION "${XRT_COREUTIL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${XRT_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${UUID_LIBRARY}")
  if(XRT_NOOP_LIBRARY)
    add_library(XRT::noop INTERFACE IMPORTED)
    set_target_properties(XRT::noop PROPERTIES
      INTERFACE_LINK_LIBRARIES "-Wl,--no-as-needed;${XRT_NOOP_LIBRARY};-Wl,--as-needed")
  endif()
endif()
mark_as_advanced(XRT_INCLUDE_DIR XRT_COREUTIL_LIBRARY XRT_NOOP_LIBRARY UUID_LIBRARY)
