/**
 * Scale-out — the shipper [scale.4]: day 09's acknowledged LSP/1 shipper (lessons/day09/shipper-engine.ts) with
 * several receivers: `--target a:1,b:2,c:3`. When its connection is lost it moves on to the next receiver;
 * that receiver's HELLO answer comes from JetStream, so the shipper resends exactly what the cluster does
 * not hold yet — whichever receiver took it. `--spread` starts each shipper at (stream id mod count), so a
 * fleet of shippers spreads over the receivers.
 *
 * Run: npx tsx lessons/scale/shipper.ts --target 127.0.0.1:5301,127.0.0.1:5302,127.0.0.1:5303 --generate 100000
 */
import { parseCli } from '../../shared/cli.ts';
import { createLog } from '../../shared/log.ts';
import { LspShipper, lspShipperOptions, validateLspShipper } from '../day09/shipper-engine.ts';
import { shipperDirs } from '../day09/shipper-options.ts';
import { Batcher } from '../day11/batcher.ts';

const PROGRAM = 'lessons/scale/shipper.ts';
const args = parseCli({
  name: PROGRAM,
  summary:
    'Scale-out shipper: the acknowledged LSP/1 shipper with several --target receivers, failing over between them (and --spread).',
  options: lspShipperOptions('scale', 5301),
  validate: validateLspShipper,
});
const log = createLog('scale/shipper');
const shipper = new LspShipper({
  lesson: 'scale',
  args,
  log,
  ...shipperDirs(PROGRAM, args), // --state-dir, --spool, --follow's position
  batching: (o) => new Batcher<string>(o), // day 11's batches: full, bytes, or --batch-delay-ms
  doneExtra: () => ({ targets: args.target.all.length }),
});
process.exit(await shipper.run());
