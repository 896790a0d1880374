/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared declarations of the `hostdev` command-line tool.
 *
 * Adding a subcommand: write cmd_<name>.c defining `const struct cli_command cli_cmd_<name>` and
 * add X(<name>) to CLI_COMMANDS below. CMake picks up cmd_*.c on its own.
 */
#ifndef HOSTDEV_CLI_H
#define HOSTDEV_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <hostdev.h>

/* The command table, in the order `hostdev --help` lists it. */
/* clang-format off */
#define CLI_COMMANDS(X) \
	X(list) X(show) X(groups) X(bind) X(restore) X(journal) X(check) X(persist) \
	X(list_overrides) X(apply) X(sriov) X(mdev) X(vgpu) X(watch) X(serve) X(permitted) \
	X(openshift)
/* clang-format on */

/* Exit codes (docs/cli.md). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1, /* runtime failure: unreadable sysfs, unknown device, ... */
	CLI_EXIT_USAGE = 2,   /* bad option, argument or filter */
};

/* The version of the JSON documents the CLI prints (docs/json-schema.md). */
#define CLI_JSON_SCHEMA_VERSION 1

/* State shared by main and the subcommands: the global options and the library context. */
struct cli {
	/* Global options; paths are absolute and owned (made absolute by the option parser). */
	char *root;
	char *sysfs;
	char *pci_ids;
	char *modules_dir;
	char *state_dir;
	char *config_dir;
	const char *node_name;
	int verbose;
	/* --debug / --log-level: a HOSTDEV_LOG_* priority, 0 when not given (then from -v). */
	int log_level;
	/* The running subcommand takes -v itself (list: lspci's verbosity), not as logging. */
	bool local_v;
	bool help;
	bool version;
	/* The running subcommand, NULL while main parses the global options. */
	const struct cli_command *command;
	/* Created by cli_open_ctx() once all options are known. */
	hostdev_ctx *ctx;
};

struct cli_command {
	const char *name;
	/* One line for `hostdev --help`. */
	const char *summary;
	/* Arguments after the name, e.g. "ADDRESS [--json]". */
	const char *synopsis;
	/* Description of the subcommand's own options, printed by `hostdev NAME --help`. */
	const char *help;
	/*
	 * Run with argv[0] = the subcommand name. Parses its options with cli_getopt(), calls
	 * cli_open_ctx() and returns a CLI_EXIT_* code. Prints its own error lines.
	 */
	int (*run)(struct cli *cli, int argc, char **argv);
};

#define CLI_DECLARE_COMMAND(name) extern const struct cli_command cli_cmd_##name;
CLI_COMMANDS(CLI_DECLARE_COMMAND)

/* main.c: the table built from CLI_COMMANDS, in that order. */
extern const struct cli_command *const cli_commands[];
extern const size_t cli_command_count;

/* options.c: option parsing shared by main and every subcommand. */

/*
 * Long options every subcommand accepts (and main before the subcommand). Put
 * CLI_GLOBAL_LONG_OPTIONS at the end of a subcommand's option table and CLI_GLOBAL_SHORT_OPTIONS in
 * its short options.
 */
enum {
	CLI_OPT_ROOT = 0x100,
	CLI_OPT_SYSFS,
	CLI_OPT_PCI_IDS,
	CLI_OPT_NODE_NAME,
	CLI_OPT_VERSION,
	CLI_OPT_MODULES_DIR,
	CLI_OPT_STATE_DIR,
	CLI_OPT_CONFIG_DIR,
	CLI_OPT_DEBUG,
	CLI_OPT_LOG_LEVEL,
};
#define CLI_GLOBAL_SHORT_OPTIONS "vh"
/* clang-format off */
#define CLI_GLOBAL_LONG_OPTIONS \
	{"root", required_argument, NULL, CLI_OPT_ROOT}, \
	{"sysfs", required_argument, NULL, CLI_OPT_SYSFS}, \
	{"pci-ids", required_argument, NULL, CLI_OPT_PCI_IDS}, \
	{"node-name", required_argument, NULL, CLI_OPT_NODE_NAME}, \
	{"modules-dir", required_argument, NULL, CLI_OPT_MODULES_DIR}, \
	{"state-dir", required_argument, NULL, CLI_OPT_STATE_DIR}, \
	{"config-dir", required_argument, NULL, CLI_OPT_CONFIG_DIR}, \
	{"verbose", no_argument, NULL, 'v'}, \
	{"debug", no_argument, NULL, CLI_OPT_DEBUG}, \
	{"log-level", required_argument, NULL, CLI_OPT_LOG_LEVEL}, \
	{"help", no_argument, NULL, 'h'}, \
	{"version", no_argument, NULL, CLI_OPT_VERSION}
/* clang-format on */

/* cli_getopt() results besides an option character. */
enum {
	CLI_GETOPT_END = -1,   /* no more options: go on with the operands at argv[optind] */
	CLI_GETOPT_ERROR = -2, /* a usage error was printed: exit CLI_EXIT_USAGE */
	CLI_GETOPT_DONE = -3,  /* --help or --version was printed: exit CLI_EXIT_OK */
};

/*
 * getopt_long() wrapper: returns the next option of the subcommand, handling the global ones
 * itself, or one of CLI_GETOPT_*. @shortopts must start with ":" ("+:" in main) so that a missing
 * argument is told apart from an unknown option. In a subcommand (cli->command set) --help and
 * --version are answered when the options end; main answers them itself.
 */
int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/* The exit code for a cli_getopt() result CLI_GETOPT_ERROR or CLI_GETOPT_DONE. */
static inline int cli_getopt_exit_code(int c)
{
	return c == CLI_GETOPT_DONE ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

/* Create cli->ctx from the global options. Returns CLI_EXIT_OK or prints an error and returns 1/2.
 */
int cli_open_ctx(struct cli *cli);

/*
 * For commands that change the vfio state (journal, lock, persistent list): refuse --sysfs
 * without --root or an explicit --state-dir (and, when @uses_config, --config-dir), which would
 * record fake devices in this host's real journal. Prints the usage error (naming @command) and
 * returns CLI_EXIT_USAGE, or returns CLI_EXIT_OK.
 */
int cli_require_own_state(struct cli *cli, const char *command, bool uses_config);

/* --lock-timeout SECONDS (1-86400) into milliseconds. False when malformed. */
bool cli_parse_lock_timeout(const char *text, unsigned int *ms);
/* A whole number of seconds, 1 to @max (digits only), as milliseconds in *@ms. */
bool cli_parse_seconds(const char *text, unsigned int max, unsigned int *ms);

/*
 * --owner TEXT: at most HOSTDEV_VFIO_OWNER_MAX bytes. Prints the usage error naming the option
 * and returns CLI_EXIT_USAGE, or returns CLI_EXIT_OK.
 */
int cli_check_owner(struct cli *cli, const char *text);
/*
 * A PCI address argument (@option: "--protect", or NULL for an operand): CLI_EXIT_OK, or a usage
 * error in the library's wording (what was given, the form DDDD:BB:DD.F).
 */
int cli_check_address(struct cli *cli, const char *option, const char *text);

/* Release everything cli owns. */
void cli_release(struct cli *cli);

/* Print the --help text of @cmd (or of hostdev itself when NULL) to @out. */
void cli_print_help(FILE *out, const struct cli_command *cmd);

/* output.c: messages and formatting helpers. */

/* "hostdev: <message>\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Report the failure @err of a library call: prints "hostdev: <context error>", or when the context
 * has no message "hostdev: <what>: <strerror>", and returns CLI_EXIT_FAILURE.
 */
int cli_lib_error(struct cli *cli, int err, const char *what);
/*
 * A library message with the tool's spelling of the API words it names (HOSTDEV_BIND_GROUP gets
 * "(hostdev bind --group)" after it, hostdev_vfio_restore_all() becomes "hostdev restore --all").
 * malloc'ed; NULL when out of memory.
 */
char *cli_spelling(const char *message);

/* A usage error: "hostdev: <message> (see 'hostdev [SUB] --help')". Returns CLI_EXIT_USAGE. */
int cli_usage_error(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The `lspci -nn` style part of a device line, without newline:
 * "0000:00:03.0 Ethernet controller [0200]: Red Hat, Inc. Virtio network device [1af4:1041] (rev
 * 01)". Built in memory first (cli_text_lspci_line()): nothing is printed without memory for
 * the line.
 */
void cli_print_lspci_line(FILE *out, hostdev_pci_device *dev);

/* lspci's output options of `hostdev list` (list_lspci.c). */
struct cli_lspci {
	int numeric;  /* 0 names, 1 -n (numbers), 2 -nn (both) */
	bool domains; /* -D */
	/* Some device of the host (filtered out or not) is outside domain 0: lspci then shows
	 * the domain on every line. */
	bool other_domains;
	bool kernel; /* -k */
	int verbose; /* -v, -vv */
	int machine; /* -m count; with -v: the -vmm tag/value records */
	bool tree;   /* -t: the bus tree (list_tree.c) */
};

/* Print @devs (in order) as lspci does with the options @o. */
void cli_lspci_print(const struct cli_lspci *o, hostdev_pci_device *const *devs, size_t count);

/* "Vendor Device" of @dev as lspci names it with the numeric mode of @o (-n, -nn). */
void cli_lspci_print_ids(const struct cli_lspci *o, hostdev_pci_device *dev);

/*
 * lspci -t (-tv, -tvnn): the bus tree of @devs (every device of the host, any order). Returns
 * CLI_EXIT_OK or CLI_EXIT_FAILURE (out of memory, printed).
 */
int cli_lspci_print_tree(const struct cli_lspci *o, hostdev_pci_device *const *devs, size_t count);

/* The library's JSON of @dev, parsed. NULL after printing an error (cli_lib_error). */
cJSON *cli_device_json(struct cli *cli, hostdev_pci_device *dev);

/* A new {"schema_version": N} document; NULL on allocation failure. */
cJSON *cli_json_document(void);

/* Print @doc indented, then a newline. Returns CLI_EXIT_OK or CLI_EXIT_FAILURE (out of memory). */
int cli_json_print(cJSON *doc);

/* Text built in memory; oom records a failed allocation (what was added after it is lost). */
struct cli_text {
	char *data;
	size_t length, capacity;
	bool oom;
};
/* Append @n bytes, a string, @value as exactly @digits lower-case hex digits (at most 8), a
 * decimal. */
void cli_text_put(struct cli_text *t, const char *bytes, size_t n);
void cli_text_puts(struct cli_text *t, const char *s);
void cli_text_hex(struct cli_text *t, unsigned int value, int digits);
void cli_text_int(struct cli_text *t, int value);
/* cli_print_lspci_line()'s text and its "<subclass name> [ccss]" part, appended to @t. */
void cli_text_lspci_line(struct cli_text *t, hostdev_pci_device *dev);
void cli_text_class(struct cli_text *t, hostdev_pci_device *dev);
/*
 * Write @t's bytes to @out's file descriptor (after flushing what @out buffers) and empty @t
 * (memory kept).
 * Returns false with errno on a failed write, which for stdout is also kept in cli_stdout_errno
 * for main()'s report, since it bypasses stdio's error indicator.
 */
bool cli_text_write(struct cli_text *t, FILE *out);
extern int cli_stdout_errno;
void cli_text_free(struct cli_text *t);

/*
 * A {"schema_version": 1, "<key>": [...]} document streamed to stdout as its entries come, from
 * the library's per-device JSON nested at depth 2 in the HOSTDEV_JSON_INDENT layout (so that it
 * is neither parsed nor re-indented): memory stays flat with the number of devices. The text goes
 * out in blocks of about CLI_JSON_LIST_FLUSH bytes, always at an entry's end. The head is written
 * with the first entry, so a failure before it leaves stdout empty; a failure after it leaves the
 * entries written so far and no closing brackets, so that no JSON parser accepts a partial list
 * (docs/cli.md).
 */
#define CLI_JSON_LIST_FLUSH 65536
struct cli_json_list {
	struct cli_text text; /* not yet written */
	const char *key;
	size_t count;	/* entries added */
	size_t written; /* entries on stdout */
	bool write_failed;
};
/* Start a document whose array is @key (a static string). Returns CLI_EXIT_OK. */
int cli_json_list_begin(struct cli_json_list *list, const char *key);
/*
 * Add one entry: @nested is a JSON value indented for depth 2. Returns CLI_EXIT_OK, or
 * CLI_EXIT_FAILURE after printing the error (out of memory, stdout write error); the caller then
 * stops and calls cli_json_list_finish(list, false).
 */
int cli_json_list_add(struct cli_json_list *list, const char *nested);
/*
 * @complete: close the document and write the rest; otherwise (a failure was reported) write the
 * complete entries still held and leave the document unterminated, saying so on stderr. Releases
 * the list. Returns CLI_EXIT_OK, or CLI_EXIT_FAILURE (a write or memory error, or a partial
 * document written).
 */
int cli_json_list_finish(struct cli_json_list *list, bool complete);

/* Add @value or null. Returns false on allocation failure. */
bool cli_json_add_string(cJSON *object, const char *key, const char *value);

/* signals.c: SIGINT/SIGTERM readable on a pipe for commands that run until stopped. */
struct cli_signals {
	int fds[2]; /* poll fds[0]: readable once a stop signal arrived */
	struct sigaction old_int, old_term;
};
/* Install the handlers. Returns CLI_EXIT_OK, or prints an error and returns CLI_EXIT_FAILURE. */
int cli_signals_open(struct cli_signals *s);
/* Restore the previous handlers and close the pipe; safe after a failed open. */
void cli_signals_close(struct cli_signals *s);

/* cmd_list_usb.c: `hostdev list --usb` (cmd_list.c passes its whole command line). */
int cli_list_usb(struct cli *cli, int argc, char **argv);
/* "<port> Bus BBB Device DDD: ID vvvv:pppp <names> class=.. speed=.. drivers=.. serial=..
 * port_id=.." without newline; device strings escaped with cli_print_escaped(). */
void cli_print_usb_line(FILE *out, hostdev_usb_device *dev);
/* @s with every byte outside printable ASCII (and '\\') written as \xNN. */
void cli_print_escaped(FILE *out, const char *s);
/* The library's JSON of a USB device, parsed. NULL after printing an error. */
cJSON *cli_usb_device_json(struct cli *cli, hostdev_usb_device *dev);

#endif /* HOSTDEV_CLI_H */
