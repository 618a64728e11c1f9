# SPDX-License-Identifier: Apache-2.0
#
# Packages hw/rtl/espo_kernel.sv (files from hw/espo.f) as a Vitis RTL kernel (.xo):
# interfaces s_axi_control (AXI4-Lite, 4 KiB register map, docs/REGISTERS.md) and m_axi_gmem
# (AXI4 master, 64-bit address, 512-bit data), clock ap_clk, active-low reset ap_rst_n,
# user-managed control (hw/xrt/kernel.xml: no ap_ctrl block, no interrupt).
#
# Run through scripts/package_xclbin.sh, or:
#   vivado -mode batch -nojournal -nolog -source hw/xrt/package_kernel.tcl \
#     -tclargs <repo root> <out.xo> <FPGA part> <work dir> <SaSlots>
if {[llength $argv] != 5} {
  puts "usage: package_kernel.tcl <repo root> <out.xo> <FPGA part> <work dir> <SaSlots>"
  exit 2
}
lassign $argv repo xo_path part work sa_slots

file delete -force $work/pack $work/ip
create_project -force espo_kernel_pack $work/pack -part $part

# RTL sources from the filelist: one path per line, relative to the repo root; // comments.
set fh [open $repo/hw/espo.f r]
foreach line [split [read $fh] "\n"] {
  set path [string trim $line]
  if {$path eq "" || [string match "//*" $path] || [string match "#*" $path]} { continue }
  add_files -norecurse [file join $repo $path]
}
close $fh
set_property file_type SystemVerilog [get_files -filter {FILE_TYPE == Verilog || NAME =~ *.sv}]
set_property top espo_kernel [current_fileset]
set_property generic "SaSlots=$sa_slots" [current_fileset]
update_compile_order -fileset sources_1

ipx::package_project -root_dir $work/ip -vendor espo.dev -library kernel -taxonomy /KernelIP \
  -import_files -set_current false
ipx::unload_core $work/ip/component.xml
ipx::edit_ip_in_project -upgrade true -name espo_kernel_edit -directory $work/pack \
  $work/ip/component.xml
set core [ipx::current_core]
set_property core_revision 1 $core
set_property -quiet value $sa_slots [ipx::get_user_parameters SaSlots -of_objects $core]

# Clock, reset and the two AXI interfaces (inferred from the port names).
ipx::infer_bus_interface ap_clk xilinx.com:signal:clock_rtl:1.0 $core
ipx::infer_bus_interface ap_rst_n xilinx.com:signal:reset_rtl:1.0 $core
set_property value ACTIVE_LOW [ipx::add_bus_parameter POLARITY \
  [ipx::get_bus_interfaces ap_rst_n -of_objects $core]]
ipx::associate_bus_interfaces -busif s_axi_control -clock ap_clk $core
ipx::associate_bus_interfaces -busif m_axi_gmem -clock ap_clk $core
ipx::associate_bus_interfaces -clock ap_clk -reset ap_rst_n $core

# Register map of s_axi_control as Vitis wants it: the argument registers of kernel.xml, the
# pointers tied to m_axi_gmem (ASSOCIATED_BUSIF) so that v++ can connect gmem to a bank.
set mem_map [ipx::add_memory_map -quiet s_axi_control $core]
set block [ipx::add_address_block -quiet reg0 $mem_map]
set_property range 0x1000 $block
set_property width 32 $block
set_property slave_memory_map_ref s_axi_control \
  [ipx::get_bus_interfaces -of_objects $core s_axi_control]
foreach {name offset bits busif} {
  CTRL     0x040 32 {}
  in_buf   0x050 64 m_axi_gmem
  in_count 0x058 32 {}
  out_buf  0x060 64 m_axi_gmem
  out_size 0x068 32 {}
} {
  set reg [ipx::add_register -quiet $name $block]
  set_property address_offset $offset $reg
  set_property size $bits $reg
  if {$busif ne ""} {
    set_property value $busif [ipx::add_register_parameter -quiet ASSOCIATED_BUSIF $reg]
  }
}

set_property xpm_libraries {XPM_CDC XPM_MEMORY XPM_FIFO} $core
set_property sdx_kernel true $core
set_property sdx_kernel_type rtl $core
set_property supported_families {} $core
set_property auto_family_support_level level_2 $core
ipx::create_xgui_files $core
ipx::update_checksums $core
ipx::check_integrity -kernel $core
ipx::save_core $core
close_project -delete

package_xo -force -xo_path $xo_path -kernel_name espo_kernel -ip_directory $work/ip \
  -kernel_xml [file join $repo hw/xrt/kernel.xml]
puts "package_kernel: wrote $xo_path"
