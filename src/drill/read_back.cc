// Topic creation and the final read-back (declared in load.h): short-lived librdkafka handles of their own.
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>

#include "drill/load.h"
#include "drill/process.h"

namespace floe::drill {
namespace {

Error client_error(const std::string& m) { return Error{std::make_error_code(std::errc::io_error), m}; }

rd_kafka_conf_t* base_conf(const std::string& bootstrap) {
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(c, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(c, "client.id", "floe-drill", err, sizeof err);
  rd_kafka_conf_set(c, "log_level", "6", err, sizeof err);
  use_client_log(c);
  return c;
}

}  // namespace

Status create_topic(const std::string& bootstrap, const std::string& topic, int partitions,
                    std::chrono::milliseconds timeout) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, base_conf(bootstrap), err, sizeof err);
  if (!rk) return client_error(std::string("admin client: ") + err);
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(opts, static_cast<int>(timeout.count()), err, sizeof err);
  rd_kafka_AdminOptions_set_request_timeout(opts, static_cast<int>(timeout.count()), err, sizeof err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, static_cast<int>(timeout.count()) + 2000);
  std::string problem;
  if (!ev) {
    problem = "CreateTopics: no answer within the timeout";
  } else if (rd_kafka_event_error(ev)) {
    problem = std::string("CreateTopics: ") + rd_kafka_event_error_string(ev);
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        problem =
            std::string("CreateTopics ") + topic + ": " + rd_kafka_err2str(e) +
            (rd_kafka_topic_result_error_string(res[i]) ? std::string(" ") + rd_kafka_topic_result_error_string(res[i])
                                                        : "");
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy(nt);
  // Then every partition must have a leader (the assignment may trail the creation in cluster mode).
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (problem.empty()) {
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    int with_leader = 0, listed = 0;
    if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < md->topic_cnt; ++i) {
        listed = md->topics[i].partition_cnt;
        for (int j = 0; j < md->topics[i].partition_cnt; ++j) {
          with_leader += md->topics[i].partitions[j].err == 0 && md->topics[i].partitions[j].leader >= 0;
        }
      }
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    if (listed == partitions && with_leader == partitions) break;
    if (std::chrono::steady_clock::now() >= deadline || interrupted()) {
      problem = "topic " + topic + ": " + std::to_string(with_leader) + " of " + std::to_string(partitions) +
                " partitions have a leader after the timeout";
      break;
    }
    sleep_for(std::chrono::milliseconds(200));
  }
  rd_kafka_destroy(rk);
  if (!problem.empty()) return client_error(problem);
  return ok_status();
}

std::vector<uint8_t> read_back(const std::string& bootstrap, const std::string& topic, int partitions, uint64_t run_id,
                               std::size_t max_seq, std::chrono::milliseconds timeout, bool* complete,
                               std::string* note) {
  std::vector<uint8_t> seen(max_seq, 0);
  *complete = false;
  rd_kafka_conf_t* c = base_conf(bootstrap);
  char err[512];
  const std::string group = "floe-drill-verify-" + std::to_string(run_id);
  rd_kafka_conf_set(c, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_conf_set(c, "enable.partition.eof", "true", err, sizeof err);
  rd_kafka_conf_set(c, "auto.offset.reset", "earliest", err, sizeof err);
  rd_kafka_conf_set(c, "fetch.wait.max.ms", "50", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
  if (!rk) {
    *note = std::string("read-back consumer: ") + err;
    return seen;
  }
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<bool> at_end(static_cast<std::size_t>(partitions), false);
  int ended = 0;
  int64_t errors = 0;
  std::string last_error;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (ended < partitions && std::chrono::steady_clock::now() < deadline && !interrupted()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (m->partition >= 0 && m->partition < partitions && !at_end[m->partition]) {
        at_end[m->partition] = true;
        ++ended;
      }
    } else if (m->err) {
      ++errors;
      last_error = rd_kafka_message_errstr(m);
    } else if (m->len >= 24 && m->payload && std::memcmp(m->payload, "FLOEDRL1", 8) == 0) {
      uint64_t rid = 0, seq = 0;
      std::memcpy(&rid, static_cast<const uint8_t*>(m->payload) + 8, 8);
      std::memcpy(&seq, static_cast<const uint8_t*>(m->payload) + 16, 8);
      if (rid == run_id && seq < max_seq && seen[seq] < 255) ++seen[seq];
    }
    rd_kafka_message_destroy(m);
  }
  *complete = ended == partitions;
  if (!*complete) {
    *note = std::to_string(ended) + " of " + std::to_string(partitions) + " partitions read to their end before " +
            (interrupted() ? "the interrupt" : "the timeout");
  }
  if (errors) *note += (note->empty() ? "" : "; ") + std::to_string(errors) + " consumer errors, last: " + last_error;
  // rd_kafka_consumer_close has no timeout of its own: bounded here, and leaked when it overruns (the drill is
  // about to exit; the report must not wait on a cluster that stopped answering).
  auto closed = std::make_shared<std::atomic<bool>>(false);
  std::thread closer([rk, closed] {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    *closed = true;
  });
  const auto close_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!*closed && std::chrono::steady_clock::now() < close_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (*closed)
    closer.join();
  else
    closer.detach();
  return seen;
}

}  // namespace floe::drill
