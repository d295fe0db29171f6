#include "cli/commands.h"
namespace harpc::cli {
void AddDemoCommand(CLI::App& app, int& exit_code) { app.add_subcommand("demo", "todo"); }
}
