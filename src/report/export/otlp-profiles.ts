// OTLP profiles (opentelemetry.proto.profiles.v1development, the OpenTelemetry Collector's alpha signal,
// development version 1 as collector v0.165 compiles it): an ExportProfilesServiceRequest with one resource,
// one scope and one Profile per sample type (this version of the schema has one sample type per profile),
// sharing one dictionary. Tables whose entry 0 must be the zero value get it.
//
// Field numbers (profiles.proto): ExportProfilesServiceRequest{resource_profiles 1, dictionary 2};
// ProfilesDictionary{mapping_table 1, location_table 2, function_table 3, link_table 4, string_table 5,
// attribute_table 6, stack_table 7}; ResourceProfiles{resource 1, scope_profiles 2};
// ScopeProfiles{scope 1, profiles 2}; Profile{sample_type 1, samples 2, time_unix_nano 3 (fixed64),
// duration_nano 4, period_type 5, period 6}; ValueType{type_strindex 1, unit_strindex 2};
// Sample{stack_index 1, values 4}; Stack{location_indices 1, leaf first}; Location{lines 3};
// Line{function_index 1, line 2}; Function{name_strindex 1, filename_strindex 3}.
// Resource{attributes 1}: KeyValue{key 1, value 2}, AnyValue{string_value 1, int_value 3};
// InstrumentationScope{name 1, version 2}.

import type { PprofFrame, PprofSample } from './pprof.js';
import { ProtoWriter } from './protobuf.js';

export interface OtlpProfilesInput {
  /** Resource attributes (`service.name`, user labels, `process.pid`). */
  readonly resource: readonly (readonly [string, string | number])[];
  readonly scopeName: string;
  readonly scopeVersion: string;
  readonly sampleTypes: readonly (readonly [type: string, unit: string])[];
  readonly samples: readonly PprofSample[];
  readonly timeUnixNano: bigint;
  readonly durationNano: number;
  readonly periodType: readonly [type: string, unit: string];
  readonly period: number;
  readonly emptyStackName?: string;
}

export { OTLP_PROFILES_PATH, OTLP_PROFILES_VERSION, OTLP_PROFILES_VERSION_HEADER } from './otlp-endpoint.js';

export function encodeOtlpProfiles(input: OtlpProfilesInput): Uint8Array {
  const strings = new Map<string, number>();
  const stringTable: string[] = [];
  const str = (s: string): number => {
    let i = strings.get(s);
    if (i === undefined) {
      i = stringTable.length;
      stringTable.push(s);
      strings.set(s, i);
    }
    return i;
  };
  str('');
  // Index 0 of each table is the zero value, present.
  const functions: ProtoWriter[] = [new ProtoWriter()];
  const functionIds = new Map<string, number>();
  const locations: ProtoWriter[] = [new ProtoWriter()];
  const locationIds = new Map<string, number>();
  const stacks: ProtoWriter[] = [new ProtoWriter()];
  const stackIds = new Map<string, number>();
  const functionOf = (name: string, file: string): number => {
    const key = `${name}\u0000${file}`;
    let id = functionIds.get(key);
    if (id === undefined) {
      id = functions.length;
      functionIds.set(key, id);
      functions.push(new ProtoWriter().uintField(1, str(name)).uintField(3, str(file)));
    }
    return id;
  };
  const locationOf = (f: PprofFrame): number => {
    const key = `${f.function}\u0000${f.file}\u0000${f.line}`;
    let id = locationIds.get(key);
    if (id === undefined) {
      id = locations.length;
      locationIds.set(key, id);
      locations.push(new ProtoWriter().messageField(3, new ProtoWriter().uintField(1, functionOf(f.function, f.file)).uintField(2, f.line)));
    }
    return id;
  };
  const empty: PprofFrame = { function: input.emptyStackName ?? '<no Python stack>', file: '', line: 0 };
  const stackOf = (frames: readonly PprofFrame[]): number => {
    const leafFirst = (frames.length === 0 ? [empty] : [...frames].reverse()).map(locationOf);
    const key = leafFirst.join(',');
    let id = stackIds.get(key);
    if (id === undefined) {
      id = stacks.length;
      stackIds.set(key, id);
      stacks.push(new ProtoWriter().packedField(1, leafFirst));
    }
    return id;
  };
  const sampleStacks = input.samples.map((s) => stackOf(s.frames));

  const scope = new ProtoWriter().stringField(1, input.scopeName).stringField(2, input.scopeVersion);
  const scopeProfiles = new ProtoWriter().messageField(1, scope);
  const periodType = new ProtoWriter().uintField(1, str(input.periodType[0])).uintField(2, str(input.periodType[1]));
  input.sampleTypes.forEach(([type, unit], t) => {
    const profile = new ProtoWriter().messageField(1, new ProtoWriter().uintField(1, str(type)).uintField(2, str(unit)));
    input.samples.forEach((s, i) => {
      const v = Math.round(s.values[t] ?? 0);
      if (v <= 0) return; // a sample of zero says nothing
      profile.messageField(2, new ProtoWriter().uintField(1, sampleStacks[i] as number).packedField(4, [v]));
    });
    profile.fixed64Field(3, input.timeUnixNano).uintField(4, Math.round(input.durationNano)).messageField(5, periodType).uintField(6, Math.round(input.period));
    scopeProfiles.messageField(2, profile);
  });
  const resource = new ProtoWriter();
  for (const [key, value] of input.resource) {
    const any = typeof value === 'number' ? new ProtoWriter().varintField(3, value) : new ProtoWriter().stringField(1, value);
    resource.messageField(1, new ProtoWriter().stringField(1, key).messageField(2, any));
  }
  const resourceProfiles = new ProtoWriter().messageField(1, resource).messageField(2, scopeProfiles);

  const dictionary = new ProtoWriter();
  dictionary.messageField(1, new ProtoWriter()); // mapping_table[0]
  for (const l of locations) dictionary.messageField(2, l);
  for (const f of functions) dictionary.messageField(3, f);
  // link_table[0]: the zero link, with ids of the lengths codecs expect (16 and 8 zero bytes).
  dictionary.messageField(4, new ProtoWriter().bytesField(1, new Uint8Array(16)).bytesField(2, new Uint8Array(8)));
  for (const s of stringTable) dictionary.stringField(5, s);
  dictionary.messageField(6, new ProtoWriter()); // attribute_table[0]
  for (const s of stacks) dictionary.messageField(7, s);
  return new ProtoWriter().messageField(1, resourceProfiles).messageField(2, dictionary).finish();
}
