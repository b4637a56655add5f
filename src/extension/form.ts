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
    const back = history.length > 0;
    const r =
      f.type === 'text'
        ? await askText(title, f, answers, step, visible.length, back)
        : f.type === 'pick'
          ? await askPick(title, f, answers, step, visible.length, back)
          : await askMulti(title, f, answers, step, visible.length, back);
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

function askText<A>(
  title: string,
  f: TextField<A>,
  answers: Partial<A>,
  step: number,
  total: number,
  back: boolean,
): Promise<{ value: unknown } | typeof BACK | undefined> {
  const box = vscode.window.createInputBox();
  box.title = `${title}: ${f.title}`;
  box.step = step;
  box.totalSteps = total;
  box.value = f.value(answers);
  box.prompt = f.prompt;
  box.ignoreFocusOut = true;
  if (back) box.buttons = [vscode.QuickInputButtons.Back];
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: { value: unknown } | typeof BACK | undefined) => {
      if (done) return;
      done = true;
      resolve(v);
      box.dispose();
    };
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
    box.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && finish(BACK));
    box.show();
    onHide(
      box,
      () => done,
      () => finish(undefined),
    );
  });
}

function askPick<A>(
  title: string,
  f: PickField<A>,
  answers: Partial<A>,
  step: number,
  total: number,
  back: boolean,
): Promise<{ value: unknown } | typeof BACK | undefined> {
  const pick = vscode.window.createQuickPick<vscode.QuickPickItem & { value: unknown }>();
  pick.title = `${title}: ${f.title}`;
  pick.step = step;
  pick.totalSteps = total;
  pick.placeholder = f.placeholder;
  pick.ignoreFocusOut = true;
  pick.matchOnDescription = true;
  pick.matchOnDetail = true;
  const items = f.options(answers).map((o) => ({ label: o.label, description: o.description, detail: o.detail, value: o.value }));
  pick.items = items;
  const first = items[f.initial?.(answers) ?? 0];
  if (first) pick.activeItems = [first];
  if (back) pick.buttons = [vscode.QuickInputButtons.Back];
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: { value: unknown } | typeof BACK | undefined) => {
      if (done) return;
      done = true;
      resolve(v);
      pick.dispose();
    };
    pick.onDidAccept(() => {
      const sel = pick.selectedItems[0] ?? pick.activeItems[0];
      if (sel) finish({ value: sel.value });
    });
    pick.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && finish(BACK));
    pick.show();
    onHide(
      pick,
      () => done,
      () => finish(undefined),
    );
  });
}

function askMulti<A>(
  title: string,
  f: MultiPickField<A>,
  answers: Partial<A>,
  step: number,
  total: number,
  back: boolean,
): Promise<{ value: unknown } | typeof BACK | undefined> {
  const pick = vscode.window.createQuickPick<vscode.QuickPickItem & { value: unknown }>();
  pick.title = `${title}: ${f.title}`;
  pick.step = step;
  pick.totalSteps = total;
  pick.placeholder = f.placeholder;
  pick.ignoreFocusOut = true;
  pick.canSelectMany = true;
  pick.matchOnDescription = true;
  const options = f.options(answers);
  const items = options.map((o) => ({ label: o.label, description: o.description, detail: o.detail, value: o.value }));
  pick.items = items;
  pick.selectedItems = items.filter((_, i) => options[i]!.picked);
  if (back) pick.buttons = [vscode.QuickInputButtons.Back];
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: { value: unknown } | typeof BACK | undefined) => {
      if (done) return;
      done = true;
      resolve(v);
      pick.dispose();
    };
    const problem = () => {
      const values = pick.selectedItems.map((i) => i.value);
      return values.length === 0 ? 'select at least one' : (f.check?.(values, answers) ?? null);
    };
    pick.onDidChangeSelection(() => {
      const p = problem();
      pick.placeholder = p ?? f.placeholder;
    });
    pick.onDidAccept(() => {
      const p = problem();
      if (p) {
        pick.placeholder = p;
        return;
      }
      finish({ value: pick.selectedItems.map((i) => i.value) });
    });
    pick.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && finish(BACK));
    pick.show();
    onHide(
      pick,
      () => done,
      () => finish(undefined),
    );
  });
}

/** A text field's parse from one of the input parsers (src/extension/inputs.ts): null means invalid. */
export function parsedBy<T>(parse: (t: string) => T | null, error: string): (t: string) => { value: T } | { error: string } {
  return (t) => {
    const v = parse(t);
    return v === null ? { error } : { value: v };
  };
}
