// The real `journey serve` in a child process, shared by the daemon tests (tests/cli) and the
// daemon benchmark (bench/bench_serve.cpp): a fresh folder for it, the process started there,
// the first line of its stdout read for the address it listens on, its stderr appended to
// daemon.log in the folder, SIGKILL when the object goes. Readers of its memory, CPU time and
// open sockets from /proc.
//
// No test framework here: a process that cannot be made is an exception (std::system_error), a
// daemon that does not come up shows in started() and first_line(). Every wait is bounded.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace journey::test {

/// A fresh folder for one daemon, with an empty `journeys/` inside; removed with everything in
/// it at the end, unless kept.
class TempFolder {
 public:
  /// Creates `parent`/`prefix`N, N random, a folder that did not exist before.
  explicit TempFolder(const std::string& prefix, const std::filesystem::path& parent =
                                                     std::filesystem::temp_directory_path()) {
    std::random_device random;
    for (int attempt = 0;; ++attempt) {
      path_ = parent / (prefix + std::to_string(random()) + std::to_string(random()));
      if (std::filesystem::create_directories(path_)) break;
      if (attempt == 100)
        throw std::runtime_error("cannot make a new folder in " + parent.string());
    }
    std::filesystem::create_directories(path_ / "journeys");
  }
  ~TempFolder() {
    if (keep_) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;

  /// The folder.
  const std::filesystem::path& path() const { return path_; }
  /// Leaves the folder in place at the end (to look at after a run).
  void keep() { keep_ = true; }
  /// Writes a file, `relative` to the folder.
  void write(const std::string& relative, const std::string& text) const {
    std::ofstream(path_ / relative, std::ios::binary) << text;
  }
  /// A file's content, `relative` to the folder; empty when there is none.
  std::string read(const std::string& relative) const {
    std::ifstream in(path_ / relative, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

/// The CPU time a process used so far (user + system), in seconds, from /proc/PID/stat; 0 when
/// it is gone.
inline double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::atof(field.c_str());
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

/// A process's resident memory from /proc/PID/status, in KiB: now and at its peak.
struct Memory {
  long rss_kb = 0;
  long hwm_kb = 0;
};

/// The daemon in a child process. Its first line on stdout is "listening on HOST:PORT".
class DaemonProcess {
 public:
  /// How the first line of a daemon on loopback begins; the port follows.
  static constexpr std::string_view kListening = "listening on 127.0.0.1:";

  /// Starts `binary args...` in `dir` (stderr appended to dir/daemon.log) and reads the first
  /// line of its stdout, waiting at most `first_line_timeout` for it.
  DaemonProcess(const std::string& binary, const std::filesystem::path& dir,
                const std::vector<std::string>& args,
                std::chrono::milliseconds first_line_timeout = std::chrono::seconds(15))
      : log_path_(dir / "daemon.log") {
    // Everything the child needs is made before the fork: between fork and exec a process with
    // threads may only make async-signal-safe calls (no allocation).
    std::vector<std::string> text = {binary};
    text.insert(text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : text) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string folder = dir.string();
    const std::string log = log_path_.string();
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category(), "pipe");
    started_at_ = std::chrono::steady_clock::now();
    pid_ = ::fork();
    if (pid_ < 0) {
      int error = errno;
      ::close(out[0]);
      ::close(out[1]);
      throw std::system_error(error, std::generic_category(), "fork");
    }
    if (pid_ == 0) {
      if (::chdir(folder.c_str()) != 0) _exit(127);
      ::dup2(out[1], 1);
      int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (err >= 0) ::dup2(err, 2);
      ::execv(argv[0], argv.data());
      _exit(127);
    }
    ::close(out[1]);
    stdout_ = out[0];
    first_line_ = read_line(first_line_timeout);
    listening_after_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
    if (started()) port_ = std::atoi(first_line_.c_str() + kListening.size());
  }
  /// Kills the process (SIGKILL) if it still runs, and reaps it.
  ~DaemonProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (stdout_ >= 0) ::close(stdout_);
  }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  /// The first line the process wrote on stdout (empty if none came in time).
  const std::string& first_line() const { return first_line_; }
  /// Whether it said it listens on a loopback port.
  bool started() const { return first_line_.rfind(kListening, 0) == 0; }
  /// The port it listens on; 0 when it did not start.
  int port() const { return port_; }
  /// "http://HOST:PORT" and `path`, from the first line.
  std::string url(const std::string& path) const {
    return "http://" + first_line_.substr(std::string_view("listening on ").size()) + path;
  }
  /// The process id; -1 once it has been reaped.
  pid_t pid() const { return pid_; }
  /// When the process was started (just before the fork).
  std::chrono::steady_clock::time_point started_at() const { return started_at_; }
  /// Seconds from the start to the first line.
  double listening_after() const { return listening_after_; }
  /// What it wrote on stderr so far.
  std::string log() const {
    std::ifstream in(log_path_, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

  /// Sends a signal (nothing once the process has been reaped).
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  /// Waits at most `seconds` for the process to end: its exit code (128 + N for signal N), or
  /// -1 if it still runs. Once it has ended, the same code again.
  int wait(double seconds = 15) {
    if (pid_ <= 0) return exit_code_;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_code_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  /// signal(sig), then wait(seconds).
  int stop(int sig, double seconds = 120) {
    signal(sig);
    return wait(seconds);
  }

  /// Its resident memory now and at the peak (zeros once it has ended).
  Memory memory() const {
    Memory memory;
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) memory.rss_kb = std::atol(line.c_str() + 6);
      if (line.rfind("VmHWM:", 0) == 0) memory.hwm_kb = std::atol(line.c_str() + 6);
    }
    return memory;
  }
  /// The CPU time it used so far (user + system), in seconds.
  double cpu_seconds() const { return process_cpu_seconds(pid_); }
  /// How many sockets it holds open (listening and accepted ones), from /proc/PID/fd: what it
  /// has accepted shows here without a connection of one's own.
  std::size_t open_sockets() const {
    std::size_t count = 0;
    std::error_code ec;
    for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid_) + "/fd", ec), end;
         !ec && it != end; it.increment(ec)) {
      std::error_code link_ec;
      if (std::filesystem::read_symlink(it->path(), link_ec).string().rfind("socket:", 0) == 0)
        ++count;
    }
    return count;
  }

 private:
  std::string read_line(std::chrono::milliseconds timeout) {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char c;
      auto n = ::read(stdout_, &c, 1);
      if (n <= 0) break;
      if (c == '\n') return line;
      line += c;
    }
    return line;
  }

  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  int stdout_ = -1;
  int exit_code_ = -1;
  int port_ = 0;
  std::string first_line_;
  std::chrono::steady_clock::time_point started_at_;
  double listening_after_ = 0;
};

}  // namespace journey::test
