//! `-o metadata` XML and `-h` usage text, generated from the parameter table
//! in the original's layout.

use std::fmt::Write;

use crate::params::{params_for, ParamId, Personality, ACTIONS};

const NOTE: &str = "NOTE: reboot-action does not power on nodes that are powered off.";

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The resource-agent metadata Pacemaker reads.
pub fn metadata_xml(personality: Personality, program: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<?xml version=\"1.0\" ?>");
    let _ = writeln!(out, "<resource-agent name=\"{program}\" shortdesc=\"Fence agent for virtual machines\">");
    let _ = writeln!(
        out,
        "<longdesc>{program} is an I/O Fencing agent which can be used with virtual machines.\n\n{NOTE}</longdesc>"
    );
    let _ = writeln!(out, "<vendor-url>https://libvirt.org</vendor-url>");
    let _ = writeln!(out, "<parameters>");
    for p in params_for(personality) {
        let required = u8::from(p.required);
        let extra = p.extra.map(|e| format!(" {e}")).unwrap_or_default();
        let _ = writeln!(out, "\t<parameter name=\"{}\" unique=\"0\" required=\"{required}\"{extra}>", p.name);
        let getopt = p.letter.map(|l| format!("-{l}")).unwrap_or_default();
        let _ = writeln!(out, "\t\t<getopt mixed=\"{getopt}\" />");
        match p.default {
            Some(d) => {
                let _ = writeln!(out, "\t\t<content type=\"{}\" default=\"{}\" />", p.content_type, xml_escape(d));
            }
            None => {
                let _ = writeln!(out, "\t\t<content type=\"{}\" />", p.content_type);
            }
        }
        let _ = writeln!(out, "\t\t<shortdesc lang=\"en\">{}</shortdesc>", xml_escape(p.description));
        let _ = writeln!(out, "\t</parameter>");
    }
    let _ = writeln!(out, "</parameters>");
    let _ = writeln!(out, "<actions>");
    for action in ACTIONS {
        let _ = writeln!(out, "\t<action name=\"{action}\" />");
    }
    let _ = writeln!(out, "</actions>");
    let _ = writeln!(out, "</resource-agent>");
    out
}

/// Wraps `text` at the last space within `width` columns.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = text;
    while rest.len() > width {
        let cut = rest[..=width].rfind(' ').unwrap_or(width);
        lines.push(rest[..cut].to_string());
        rest = rest[cut..].trim_start();
    }
    lines.push(rest.to_string());
    lines
}

fn table(out: &mut String, rows: &[(String, &str)]) {
    for (left, description) in rows {
        for (i, line) in wrap(description, 55).iter().enumerate() {
            let column = if i == 0 { left.as_str() } else { "" };
            let _ = writeln!(out, "  {column:<20}  {line:<55}");
        }
    }
}

/// The `-h` text: command-line letters, then the stdin keys.
pub fn usage(personality: Personality, program: &str) -> String {
    let mut out = format!("usage: {program} [args]\n\n{NOTE}\n\n");
    let listed = || params_for(personality).filter(|p| p.in_help && p.letter.is_some());
    let mut cli: Vec<(String, &str)> = Vec::new();
    for p in listed() {
        let letter = p.letter.unwrap_or_default();
        cli.push((p.value_name.map_or(format!("-{letter}"), |v| format!("-{letter} <{v}>")), p.description));
        if p.id == ParamId::Timeout {
            cli.push(("-?".to_string(), "Help (alternate)"));
            cli.push(("-h".to_string(), "Help"));
            cli.push(("-V".to_string(), "Display version and exit"));
        }
    }
    table(&mut out, &cli);
    out.push_str(
        "\nWith no command line argument, arguments are read from standard input.\n\
         Arguments read from standard input take the form of:\n\n    arg1=value1\n    arg2=value2\n\n",
    );
    let stdin_rows: Vec<(String, &str)> = listed().map(|p| (p.name.to_string(), p.description)).collect();
    table(&mut out, &stdin_rows);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_lists_every_parameter_and_action() {
        let xml = metadata_xml(Personality::Xvm, "fence_xvm");
        assert!(xml.starts_with("<?xml version=\"1.0\" ?>\n<resource-agent name=\"fence_xvm\""));
        assert_eq!(xml.matches("<parameter ").count(), 15);
        assert!(xml.contains(
            "\t<parameter name=\"plug\" unique=\"0\" required=\"1\" obsoletes=\"port\">\n\t\t<getopt mixed=\"-n\" />"
        ));
        assert!(xml.contains(
            "\t<parameter name=\"domain\" unique=\"0\" required=\"0\" deprecated=\"1\">\n\t\t<getopt mixed=\"\" />"
        ));
        assert_eq!(xml.matches("<action ").count(), 10);
        let virt = metadata_xml(Personality::Virt, "fence_virt");
        assert_eq!(virt.matches("<parameter ").count(), 16);
        assert!(virt.contains("name=\"ipaddr\""));
        assert!(!virt.contains("name=\"multicast_address\""));
    }

    #[test]
    fn usage_wraps_like_the_original() {
        let text = usage(Personality::Xvm, "fence_xvm");
        assert!(text.contains("  -p <port>             TCP, Multicast, VMChannel, or VM socket port           \n                        (default=1229)"));
        assert!(!text.contains("-H <domain>"), "deprecated port alias is hidden");
        assert!(text.contains("\n  plug                  Virtual Machine"));
    }
}
