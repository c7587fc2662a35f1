// The embedded broker's local directory: created on first start, locked against a second process, and holding
// the cluster id so that it survives restarts.
//
//   <data.dir>/
//     .lock        flock(2)-ed for the life of the process
//     cluster.id   22-character URL-safe base64 of 16 random bytes (the Kafka form), written once
#pragma once

#include <string>

namespace floe::app {

class DataDir {
 public:
  // Opens (creating if needed) and locks `path`. On failure returns false and sets `error` to one line.
  bool open(const std::string& path, std::string& error);
  ~DataDir();

  // Reads cluster.id, creating it on first start.
  bool cluster_id(std::string& out, std::string& error);

 private:
  std::string path_;
  int lock_fd_ = -1;
};

}  // namespace floe::app
