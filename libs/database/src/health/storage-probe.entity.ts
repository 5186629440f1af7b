import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Rows written and deleted by the readiness probe; the table is empty between probes. */
@Entity('storage_probe')
export class StorageProbe {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'text' })
  payload!: string;
}
