"""Print the full config after inheritance and overrides.

    python tools/analysis_tools/print_config.py CONFIG [--cfg-options k=v ...]
        [--save-path merged.py]
"""
import argparse

from hrformer_seg.utils.tool_setup import add_cfg_options, load_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Print a config with its _base_ files merged in')
    parser.add_argument('config', help='config file')
    add_cfg_options(parser)
    parser.add_argument(
        '--save-path', help='also write the merged config to this .py file')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    text = cfg.pretty_text
    print(f'Config ({args.config}):\n{text}')
    if args.save_path is not None:
        if not args.save_path.endswith('.py'):
            raise ValueError(
                f'--save-path must end with .py: {args.save_path}')
        cfg.dump(args.save_path)
        print(f'merged config written to {args.save_path}')
    return text


if __name__ == '__main__':
    main()
