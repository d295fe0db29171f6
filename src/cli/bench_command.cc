#include "cli/commands.h"
namespace harpc::cli {
void AddBenchCommand(CLI::App& app, int& exit_code) { app.add_subcommand("bench", "todo"); }
}
