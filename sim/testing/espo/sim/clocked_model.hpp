// SPDX-License-Identifier: Apache-2.0
//
// ClockedModel<Model>: owns a Verilated model and its context and gives tests and benches a
// cycle-level API. The only place outside sim/src that touches VerilatedContext.
//
// Per cycle: drive inputs, Settle(), sample handshakes, RisingEdge().
// Tracing: set ESPO_TRACE=<file.fst> to record an FST waveform of the whole run (the model must
// be verilated with --trace-fst; models built without it ignore the variable and say so once).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "verilated.h"
#if VM_TRACE_FST
#include "verilated_fst_c.h"
#endif

namespace espo::sim {

template <class Model>
class ClockedModel {
 public:
  ClockedModel()
      : context_(std::make_unique<VerilatedContext>()),
        model_(std::make_unique<Model>(context_.get(), "dut")) {
    const char* trace = std::getenv("ESPO_TRACE");  // NOLINT(concurrency-mt-unsafe): test setup
    if (trace != nullptr && *trace != '\0') {
#if VM_TRACE_FST
      context_->traceEverOn(true);
      tracer_ = std::make_unique<VerilatedFstC>();
      model_->trace(tracer_.get(), 99);
      tracer_->open(trace);
#else
      std::cerr << "ESPO_TRACE ignored: model built without --trace-fst\n";
#endif
    }
  }
  ~ClockedModel() {
    // Verilator 5.006 unregisters scopes through the thread's current context, which is the
    // last one evaluated: make it ours so two live models can be destroyed in any order.
    Verilated::threadContextp(context_.get());
    model_->final();
#if VM_TRACE_FST
    if (tracer_) tracer_->close();
#endif
    model_.reset();
  }
  ClockedModel(const ClockedModel&) = delete;
  ClockedModel& operator=(const ClockedModel&) = delete;
  ClockedModel(ClockedModel&&) = delete;
  ClockedModel& operator=(ClockedModel&&) = delete;

  Model* operator->() { return model_.get(); }
  Model& model() { return *model_; }

  // Evaluates combinational logic for the current inputs with the clock low.
  void Settle() {
    model_->clk_i = 0;
    model_->eval();
    Dump();
    context_->timeInc(1);
  }
  // Clocks the flops: outputs now show the state after this cycle.
  void RisingEdge() {
    model_->clk_i = 1;
    model_->eval();
    Dump();
    context_->timeInc(1);
    ++cycle_;
  }
  void Tick() {
    Settle();
    RisingEdge();
  }
  // Synchronous active-high reset held for `cycles` rising edges.
  void Reset(int cycles = 4) {
    model_->rst_i = 1;
    for (int i = 0; i < cycles; ++i) Tick();
    model_->rst_i = 0;
  }
  std::uint64_t cycle() const { return cycle_; }

 private:
  void Dump() {
#if VM_TRACE_FST
    if (tracer_) tracer_->dump(context_->time());
#endif
  }

  std::unique_ptr<VerilatedContext> context_;
  std::unique_ptr<Model> model_;
#if VM_TRACE_FST
  std::unique_ptr<VerilatedFstC> tracer_;
#endif
  std::uint64_t cycle_ = 0;
};

}  // namespace espo::sim
