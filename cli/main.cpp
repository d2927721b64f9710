// airlock: carries signed software releases into places with no network.
// Thin main: a table of subcommands {name, summary, handler}; each handler parses its own options,
// calls the libraries and formats the result.
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "cli/build_info.hpp"
#include "cli/cmd_scan.hpp"
#include "cli/cmd_serve.hpp"
#include "cli/cmd_site.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/text.hpp"

using namespace airlock::cli;

namespace {

const Command kCommands[] = {
    {"keygen", "create a signing key pair (minisign-compatible)", cmd_keygen},
    {"build", "build a signed, reproducible bundle from a release recipe", cmd_build},
    {"sign", "add a signature to a bundle (threshold signing), or attach a minisign signature", cmd_sign},
    {"inspect", "show what a bundle declares (does NOT verify it)", cmd_inspect},
    {"verify", "verify a bundle offline against a trust root; optionally extract it", cmd_verify},
    {"trust", "create and edit a trust root (trust.toml): init, add, revoke, show", cmd_trust},
    {"feed", "keep the signed channel feed (feed.toml): init, add, promote, deprecate, sign, show", cmd_feed},
    {"apply", "verify, snapshot, apply a bundle to a site; health checks; automatic rollback", cmd_apply},
    {"status", "the site's installed release, state and audit chain head", cmd_status},
    {"history", "past applies and rollbacks, with each step's duration", cmd_history},
    {"rollback", "go back to the previous release (never below its rollback_to marker)", cmd_rollback},
    {"recover", "finish or undo an apply that was interrupted (crash, power cut)", cmd_recover},
    {"stage", "verify a bundle now and keep it staged at the site, to apply later", cmd_stage},
    {"scan", "list the bundles in a folder (a stick) and which of them this site may apply", cmd_scan},
    {"staged", "list or remove the site's staged releases", cmd_staged},
    {"images", "the site's image store: list, verify, gc [--dry-run], push to a registry", cmd_images},
    {"snapshot", "create, list or restore snapshots of the site's databases and config", cmd_snapshot},
    {"audit", "export or verify the tamper-evident audit log", cmd_audit},
    {"ack", "acknowledge a repaired DEGRADED site, so that applies are allowed again", cmd_ack},
    {"skip", "record that the site is not to install a release (never a critical one), or --undo it", cmd_skip},
    {"schedule", "schedule an upgrade at a set time (staged now), list or cancel jobs", cmd_schedule},
    {"run-due", "carry out the site's scheduled job when due (run by airlock-run-due.timer)", cmd_run_due},
    {"telemetry", "opt-in run outcomes: export them at a site (JSON Lines), summarize them at HQ", cmd_telemetry},
    {"delay", "postpone a critical release, at most [policy] critical_max_delay after it was first met", cmd_delay},
    {"channel", "set or show the site's release channel (overrides site.toml's default)", cmd_channel},
    {"serve", "serve the site's Updates page (login required; loopback unless TLS)", cmd_serve},
    {"ui", "settings of the Updates page: passwd", cmd_ui},
    {"push", "publish a bundle to an OCI registry (oci://HOST/REPO:TAG)", cmd_push},
    {"pull", "fetch a bundle from an OCI registry, byte for byte, verified and resumable", cmd_pull},
};

void usage(std::ostream& out) {
  out << "airlock " AIRLOCK_VERSION
         " - signed offline release bundles\n\n"
         "Usage: airlock <command> [options]\n\nCommands:\n";
  for (const auto& c : kCommands) {
    std::string name = c.name;
    out << "  " << name << std::string(name.size() < 10 ? 10 - name.size() : 1, ' ') << c.summary << "\n";
  }
  out << "\nRun 'airlock <command> --help' for the options of one command.\n"
         "Exit codes: 0 ok, 1 internal error, 2 usage/configuration, 3 I/O, 10 bundle malformed,\n"
         "11 not authentic, 12 integrity, 13 policy refused, 20 build refused, 30 rolled back,\n"
         "31 rollback failed, 32 busy, 33 preflight failed, 34 audit chain broken.\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(std::cerr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    if (argc >= 3) {
      for (const auto& c : kCommands)
        if (std::strcmp(c.name, argv[2]) == 0) {
          char help[] = "--help";
          char* args[] = {argv[2], help, nullptr};
          return c.handler(2, args);
        }
    }
    usage(std::cout);
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::cout << "airlock " AIRLOCK_VERSION " (commit " << airlock::cli::build_commit()
              << ", bundle format airlock-bundle/1)\n";
    return 0;
  }
  for (const auto& c : kCommands) {
    if (cmd == c.name) {
      try {
        return c.handler(argc - 1, argv + 1);
      } catch (const std::exception& e) {
        std::cerr << "airlock " << airlock::printable(cmd) << ": internal error: " << airlock::printable(e.what())
                  << "\n";
        return 1;
      }
    }
  }
  std::cerr << "airlock: unknown command '" << airlock::printable(cmd) << "'\n\n";
  usage(std::cerr);
  return 2;
}
