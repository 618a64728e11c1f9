# XFRM bridge (ikectl/src/xfrm_bridge.cpp, docs/XFRM_BRIDGE.md): libnl-3 / libnl-xfrm-3.
# Private: the public header needs only <linux/xfrm.h>; tests that build messages with libnl
# link PkgConfig::LIBNL themselves.
target_link_libraries(espo_ikectl_lib PRIVATE PkgConfig::LIBNL)
