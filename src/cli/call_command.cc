#include "cli/commands.h"
namespace harpc::cli {
void AddCallCommand(CLI::App& app, int& exit_code) { app.add_subcommand("call", "todo"); }
}
