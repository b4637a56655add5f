/**
 * A form as one multi-step input (VS Code's multi-step input sample): each field is a step with
 * "n of N", a Back button, its default filled in, and validation as you type. Fields can be
 * skipped by a condition on the earlier answers. The input stays open when focus moves
 * (ignoreFocusOut), so a notification or a panel taking focus does not throw the answers away.
 */
import * as vscode from 'vscode';

export interface PickOption<V> {
  label: string;
  description?: string;
  detail?: string;
  value: V;
}

interface FieldBase<A> {
  key: keyof A & string;
  title: string;
  /** Shown only when this holds for the answers so far. */
  when?: (answers: Partial<A>) => boolean;
}

export interface TextField<A> extends FieldBase<A> {
  type: 'text';
  prompt?: string;
  value: (answers: Partial<A>) => string;
  /** The parsed value, or a message saying what is wrong. */
  parse: (text: string, answers: Partial<A>) => { value: unknown } | { error: string };
}

export interface PickField<A> extends FieldBase<A> {
  type: 'pick';
  placeholder?: string;
  options: (answers: Partial<A>) => PickOption<unknown>[];
  /** Index of the option picked first. */
  initial?: (answers: Partial<A>) => number;
}

/** Several options at once; the answer is the list of their values. */
export interface MultiPickField<A> extends FieldBase<A> {
  type: 'multi';
  placeholder?: string;
  options: (answers: Partial<A>) => (PickOption<unknown> & { picked?: boolean })[];
  /** A message when the selection cannot be used, or null. */
  check?: (values: unknown[], answers: Partial<A>) => string | null;
}

export type Field<A> = TextField<A> | PickField<A> | MultiPickField<A>;

const BACK = Symbol('back');

/**
 * VS Code can hide a quick input shown right after another one closed (focus settling after the
 * previous pick, or a walkthrough page re-taking focus). An input hidden within this time of being
 * shown, with nothing typed or picked, is shown again once instead of cancelling the form.
 */
const EARLY_HIDE_MS = 700;

function onHide(input: vscode.QuickInput, answered: () => boolean, finish: () => void): void {
  const shownAt = Date.now();
  let reshown = false;
  input.onDidHide(() => {
    if (answered()) return;
    if (!reshown && Date.now() - shownAt < EARLY_HIDE_MS) {
      reshown = true;
      input.show();
      return;
    }
    finish();
  });
}

/** Runs the form; resolves with every answer, or undefined when cancelled. */
export async function runForm<A extends Record<string, unknown>>(
  title: string,
  fields: Field<A>[],
  start: Partial<A> = {},
): Promise<A | undefined> {
  const answers: Partial<A> = { ...start };
  const history: number[] = [];
  let i = 0;
  while (i < fields.length) {
    const f = fields[i]!;
    if (f.when && !f.when(answers)) {
      i++;
      continue;
    }
    const visible = fields.filter((x) => !x.when || x.when(answers));
    const step = visible.indexOf(f) + 1;
    const place = { title, step, total: visible.length, back: history.length > 0 };
    const r =
      f.type === 'text'
        ? await askText(place, f, answers)
        : f.type === 'pick'
          ? await askPick(place, f, answers)
          : await askMulti(place, f, answers);
    if (r === undefined) return undefined;
    if (r === BACK) {
      i = history.pop() ?? 0;
      delete answers[fields[i]!.key];
      continue;
    }
    answers[f.key] = r.value as A[keyof A & string];
    history.push(i);
    i++;
  }
  return answers as A;
}

type StepResult = { value: unknown } | typeof BACK | undefined;
type PickItem = vscode.QuickPickItem & { value: unknown };

/** Where a step stands in its form: the form's title, "step of total", and whether Back is offered. */
interface StepPlace {
  title: string;
  step: number;
  total: number;
  back: boolean;
}

/**
 * Shows one step in `input` and resolves once: with an answer (through `wire`'s finish), BACK,
 * or undefined when the input is hidden (the form is cancelled). The input is disposed after.
 */
function showStep(
  input: vscode.InputBox | vscode.QuickPick<PickItem>,
  place: StepPlace,
  fieldTitle: string,
  wire: (finish: (v: StepResult) => void) => void,
): Promise<StepResult> {
  input.title = `${place.title}: ${fieldTitle}`;
  input.step = place.step;
  input.totalSteps = place.total;
  input.ignoreFocusOut = true;
  if (place.back) input.buttons = [vscode.QuickInputButtons.Back];
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: StepResult) => {
      if (done) return;
      done = true;
      resolve(v);
      input.dispose();
    };
    wire(finish);
    input.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && finish(BACK));
    input.show();
    onHide(
      input,
      () => done,
      () => finish(undefined),
    );
  });
}

function pickItems(options: PickOption<unknown>[]): PickItem[] {
  return options.map((o) => ({ label: o.label, description: o.description, detail: o.detail, value: o.value }));
}

function askText<A>(place: StepPlace, f: TextField<A>, answers: Partial<A>): Promise<StepResult> {
  const box = vscode.window.createInputBox();
  box.value = f.value(answers);
  box.prompt = f.prompt;
  return showStep(box, place, f.title, (finish) => {
    const check = (text: string) => {
      const p = f.parse(text, answers);
      box.validationMessage = 'error' in p ? p.error : undefined;
      return p;
    };
    box.onDidChangeValue(check);
    box.onDidAccept(() => {
      const p = check(box.value);
      if ('value' in p) finish(p);
    });
  });
}

function askPick<A>(place: StepPlace, f: PickField<A>, answers: Partial<A>): Promise<StepResult> {
  const pick = vscode.window.createQuickPick<PickItem>();
  pick.placeholder = f.placeholder;
  pick.matchOnDescription = true;
  pick.matchOnDetail = true;
  pick.items = pickItems(f.options(answers));
  const first = pick.items[f.initial?.(answers) ?? 0];
  if (first) pick.activeItems = [first];
  return showStep(pick, place, f.title, (finish) => {
    pick.onDidAccept(() => {
      const sel = pick.selectedItems[0] ?? pick.activeItems[0];
      if (sel) finish({ value: sel.value });
    });
  });
}

function askMulti<A>(place: StepPlace, f: MultiPickField<A>, answers: Partial<A>): Promise<StepResult> {
  const pick = vscode.window.createQuickPick<PickItem>();
  pick.placeholder = f.placeholder;
  pick.canSelectMany = true;
  pick.matchOnDescription = true;
  const options = f.options(answers);
  pick.items = pickItems(options);
  pick.selectedItems = pick.items.filter((_, i) => options[i]!.picked);
  return showStep(pick, place, f.title, (finish) => {
    const problem = () => {
      const values = pick.selectedItems.map((i) => i.value);
      return values.length === 0 ? 'select at least one' : (f.check?.(values, answers) ?? null);
    };
    pick.onDidChangeSelection(() => {
      pick.placeholder = problem() ?? f.placeholder;
    });
    pick.onDidAccept(() => {
      const p = problem();
      if (p) {
        pick.placeholder = p;
        return;
      }
      finish({ value: pick.selectedItems.map((i) => i.value) });
    });
  });
}

/** A text field's parse from one of the input parsers (src/extension/inputs.ts): null means invalid. */
export function parsedBy<T>(parse: (t: string) => T | null, error: string): (t: string) => { value: T } | { error: string } {
  return (t) => {
    const v = parse(t);
    return v === null ? { error } : { value: v };
  };
}
