#include "ops/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace tapflow {
namespace {

void sendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += size_t(n);
  }
}

std::string response(int status, const char* reason, const char* type, const std::string& body) {
  return "HTTP/1.0 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

OpsHttpServer::OpsHttpServer(Renderer metrics, std::function<bool()> ready)
    : metrics_(std::move(metrics)), ready_(std::move(ready)) {}

OpsHttpServer::~OpsHttpServer() { stop(); }

void OpsHttpServer::start(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("metrics.listen " + listen + ": expected HOST:PORT");
  std::string host = listen.substr(0, colon);
  std::string port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) throw std::runtime_error("metrics.listen " + listen + ": " + gai_strerror(rc));

  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || ::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 16) != 0) {
    std::string error = std::strerror(errno);
    freeaddrinfo(res);
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("metrics.listen " + listen + ": cannot listen: " + error);
  }
  freeaddrinfo(res);

  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fd_ = fd;
  thread_ = std::thread([this] { run(); });
}

void OpsHttpServer::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  thread_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
}

void OpsHttpServer::run() {
  while (!stopping_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    serve(fd);
    ::close(fd);
  }
}

void OpsHttpServer::serve(int fd) {
  // Read the request head (bounded in size and time).
  std::string request;
  char buf[1024];
  while (request.find("\r\n\r\n") == std::string::npos && request.find("\n\n") == std::string::npos &&
         request.size() < 8192) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    request.append(buf, size_t(n));
  }
  auto sp1 = request.find(' ');
  auto sp2 = sp1 == std::string::npos ? std::string::npos : request.find(' ', sp1 + 1);
  if (sp2 == std::string::npos) {
    sendAll(fd, response(400, "Bad Request", "text/plain", "bad request\n"));
    return;
  }
  std::string method = request.substr(0, sp1);
  std::string path = request.substr(sp1 + 1, sp2 - sp1 - 1);
  if (auto q = path.find('?'); q != std::string::npos) path.resize(q);

  if (method != "GET" && method != "HEAD") {
    sendAll(fd, response(405, "Method Not Allowed", "text/plain", "only GET\n"));
  } else if (path == "/metrics") {
    sendAll(fd, response(200, "OK", "text/plain; version=0.0.4", metrics_()));
  } else if (path == "/healthz") {
    sendAll(fd, response(200, "OK", "text/plain", "ok\n"));
  } else if (path == "/readyz") {
    bool ready = ready_();
    sendAll(fd, ready ? response(200, "OK", "text/plain", "ready\n")
                      : response(503, "Service Unavailable", "text/plain", "not ready\n"));
  } else {
    sendAll(fd, response(404, "Not Found", "text/plain", "not found\n"));
  }
}

}  // namespace tapflow
