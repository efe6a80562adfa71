export type { SequencerMessage, SequencerOrder, SequencerParams } from "./sequencer.js";
export { SequencerGroup, sequencer } from "./sequencer.js";
