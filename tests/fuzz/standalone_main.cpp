// SPDX-License-Identifier: Apache-2.0
//
// Standalone driver for LLVMFuzzerTestOneInput targets when libFuzzer is not available (g++
// builds, ctest). Runs every file of the given corpus directories/files once, then random
// mutations of them until --seconds (default 5) or --runs is reached. The mutation stream is
// seeded from ESPO_SEED (else random) and printed, so `ESPO_SEED=<n> <target> --runs=<k> corpus`
// replays a failure. On a crash the current input is written to ./fuzz-crash-<pid>.bin.
//
//   fuzz_sa_line [--seconds=S] [--runs=N] <corpus dir or file>...
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using Input = std::vector<std::uint8_t>;

constexpr std::size_t kMaxInput = 64 * 1024;

// The input being run, for the crash handler (async-signal-safe access only).
const std::uint8_t* g_current = nullptr;
std::size_t g_current_size = 0;

extern "C" void OnCrash(int sig) {
  std::array<char, 64> name{};
  const int len = std::snprintf(name.data(), name.size(), "fuzz-crash-%d.bin",  // NOLINT
                                static_cast<int>(::getpid()));
  const int fd = ::open(name.data(), O_WRONLY | O_CREAT | O_TRUNC, 0644);  // NOLINT: vararg API
  if (fd >= 0) {
    if (g_current != nullptr) (void)!::write(fd, g_current, g_current_size);
    ::close(fd);
    constexpr std::string_view kMsg = "\nfuzz: crashing input written to ";
    (void)!::write(2, kMsg.data(), kMsg.size());
    (void)!::write(2, name.data(), static_cast<std::size_t>(len));
    (void)!::write(2, "\n", 1);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void Run(const Input& in) {
  g_current = in.data();
  g_current_size = in.size();
  LLVMFuzzerTestOneInput(in.data(), in.size());
  g_current = nullptr;
}

Input ReadFile(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Input(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

Input Mutate(const Input& base, const std::vector<Input>& corpus, std::mt19937_64& rng) {
  const auto u = [&rng](std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
  };
  static constexpr std::array<std::uint8_t, 14> kInteresting = {
      0x00, 0xFF, 0x7F, 0x80, '\\', '\n', '#', ' ', '0', 'x', '9', '\'', ':', '.'};
  Input out = base;
  const std::size_t n_ops = u(1, 4);
  for (std::size_t op = 0; op < n_ops; ++op) {
    const std::size_t pos = out.empty() ? 0 : u(0, out.size() - 1);
    switch (u(0, 7)) {
      case 0:
        if (!out.empty()) out[pos] ^= static_cast<std::uint8_t>(1U << u(0, 7));
        break;
      case 1:
        if (!out.empty()) out[pos] = static_cast<std::uint8_t>(u(0, 255));
        break;
      case 2:
        if (!out.empty()) out[pos] = kInteresting.at(u(0, kInteresting.size() - 1));
        break;
      case 3:
        out.insert(out.begin() + static_cast<std::ptrdiff_t>(pos),
                   kInteresting.at(u(0, kInteresting.size() - 1)));
        break;
      case 4:
        if (!out.empty()) {
          const std::size_t len = u(1, std::min<std::size_t>(16, out.size() - pos));
          out.erase(out.begin() + static_cast<std::ptrdiff_t>(pos),
                    out.begin() + static_cast<std::ptrdiff_t>(pos + len));
        }
        break;
      case 5:
        if (!out.empty()) {  // duplicate a chunk
          const std::size_t len = u(1, std::min<std::size_t>(32, out.size() - pos));
          const Input chunk(out.begin() + static_cast<std::ptrdiff_t>(pos),
                            out.begin() + static_cast<std::ptrdiff_t>(pos + len));
          out.insert(out.begin() + static_cast<std::ptrdiff_t>(u(0, out.size())), chunk.begin(),
                     chunk.end());
        }
        break;
      case 6: {  // splice a chunk of another corpus entry
        const Input& other = corpus.at(u(0, corpus.size() - 1));
        if (!other.empty()) {
          const std::size_t from = u(0, other.size() - 1);
          const std::size_t len = u(1, std::min<std::size_t>(64, other.size() - from));
          out.insert(out.begin() + static_cast<std::ptrdiff_t>(u(0, out.size())),
                     other.begin() + static_cast<std::ptrdiff_t>(from),
                     other.begin() + static_cast<std::ptrdiff_t>(from + len));
        }
        break;
      }
      default:
        if (!out.empty()) out.resize(u(0, out.size()));
        break;
    }
  }
  if (out.size() > kMaxInput) out.resize(kMaxInput);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5.0;
  std::uint64_t max_runs = 0;  // 0: until the time is up
  std::vector<std::filesystem::path> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
    if (arg.starts_with("--seconds=")) {
      seconds = std::strtod(std::string(arg.substr(10)).c_str(), nullptr);
    } else if (arg.starts_with("--runs=")) {
      max_runs = std::strtoull(std::string(arg.substr(7)).c_str(), nullptr, 10);
    } else if (arg.starts_with("-")) {
      std::cerr << "usage: " << argv[0] << " [--seconds=S] [--runs=N] <corpus dir|file>...\n";
      return 2;
    } else {
      paths.emplace_back(arg);
    }
  }
  std::vector<Input> corpus;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());  // deterministic order for replay
      for (const auto& f : files) corpus.push_back(ReadFile(f));
    } else if (std::filesystem::is_regular_file(p, ec)) {
      corpus.push_back(ReadFile(p));
    } else {
      std::cerr << p.string() << ": no such corpus file or directory\n";
      return 2;
    }
  }
  if (corpus.empty()) corpus.emplace_back();

  std::uint64_t seed = 0;
  const char* env = std::getenv("ESPO_SEED");  // NOLINT(concurrency-mt-unsafe): single thread
  if (env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 0);
  } else {
    std::random_device rd;
    seed = (static_cast<std::uint64_t>(rd()) << 32U) ^ rd();
  }
  std::cout << "[   SEED   ] ESPO_SEED=" << seed << std::endl;
  std::signal(SIGABRT, OnCrash);
  std::signal(SIGSEGV, OnCrash);
  std::signal(SIGBUS, OnCrash);
  std::signal(SIGFPE, OnCrash);

  for (const Input& in : corpus) Run(in);
  std::mt19937_64 rng(seed);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  std::uint64_t runs = 0;
  while (max_runs == 0 ? std::chrono::steady_clock::now() < deadline : runs < max_runs) {
    const Input& base =
        corpus.at(std::uniform_int_distribution<std::size_t>(0, corpus.size() - 1)(rng));
    Run(Mutate(base, corpus, rng));
    ++runs;
  }
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "fuzz: " << corpus.size() << " corpus inputs, " << runs << " mutations in " << took
            << " s, no failure" << std::endl;
  return 0;
}
