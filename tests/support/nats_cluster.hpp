// A real three-server NATS JetStream cluster for the cluster tests: nats-server processes on free
// loopback ports, their configuration and storage in a temporary folder, all stopped (SIGKILL)
// and removed at the end. Every wait is bounded.
#pragma once

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>

namespace journey::test {

/// A loopback TCP port free when asked (the kernel's pick for port 0).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("no free loopback port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

class NatsCluster {
 public:
  /// Starts `size` servers forming one JetStream cluster (`nats-server` on the PATH).
  explicit NatsCluster(int size = 3) {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("journey-nats-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    for (int i = 0; i < size; ++i) {
      client_ports_.push_back(free_port());
      route_ports_.push_back(free_port());
    }
    std::string routes;
    for (int port : route_ports_) {
      routes += (routes.empty() ? "" : ", ") + std::string("nats-route://127.0.0.1:") +
                std::to_string(port);
    }
    for (int i = 0; i < size; ++i) {
      const auto name = "s" + std::to_string(i + 1);
      std::ofstream(dir_ / (name + ".conf"))
          << "server_name: " << name << "\nlisten: 127.0.0.1:" << client_ports_[i]
          << "\njetstream { store_dir: \"" << (dir_ / name).string() << "\" }\n"
          << "cluster {\n  name: journey-test\n  listen: 127.0.0.1:" << route_ports_[i]
          << "\n  routes: [" << routes << "]\n}\n";
      pids_.push_back(-1);
      start(i);
    }
  }
  ~NatsCluster() {
    for (std::size_t i = 0; i < pids_.size(); ++i) kill(static_cast<int>(i));
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  /// nats://127.0.0.1:PORT of every server.
  std::vector<std::string> urls() const {
    std::vector<std::string> out;
    for (int port : client_ports_) out.push_back("nats://127.0.0.1:" + std::to_string(port));
    return out;
  }
  /// SIGKILLs server `i` (0-based).
  void kill(int i) {
    if (pids_[i] <= 0) return;
    ::kill(pids_[i], SIGKILL);
    ::waitpid(pids_[i], nullptr, 0);
    pids_[i] = -1;
  }
  /// Starts server `i` again (after kill()), on its ports and storage.
  void start(int i) {
    const auto name = "s" + std::to_string(i + 1);
    const auto conf = (dir_ / (name + ".conf")).string();
    const auto log = (dir_ / (name + ".log")).string();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      std::freopen(log.c_str(), "a", stderr);
      std::freopen(log.c_str(), "a", stdout);
      ::execlp("nats-server", "nats-server", "-c", conf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    pids_[i] = pid;
  }
  const std::filesystem::path& dir() const { return dir_; }
  /// The process id of server `i` (-1 when it is not running).
  pid_t pid(int i) const { return pids_[i]; }
  /// How many servers.
  int size() const { return static_cast<int>(pids_.size()); }

 private:
  std::filesystem::path dir_;
  std::vector<int> client_ports_;
  std::vector<int> route_ports_;
  std::vector<pid_t> pids_;
};

}  // namespace journey::test
